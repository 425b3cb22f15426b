// Op ids the engine derives itself (the request engine names the ones it derives in its own ids module).

/**
 * The id under which usage replayed after a fail-open admission is applied when the store had rejected that
 * admission's op id (the usage is new; this id keeps its own replays idempotent).
 */
export function afterRejectionIdOf(opId: string): string {
  return `${opId}.after-rejection`;
}
