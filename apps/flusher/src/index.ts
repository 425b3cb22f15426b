// @tollgate/flusher: the pieces of the flusher process, for embedding and tests.
export * from './env';
export * from './metrics';
export * from './run';
