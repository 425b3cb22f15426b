// How the request engine sets a response header, whatever the framework (Express, Fastify, node:http).
export interface HttpBinding<Res> {
  setHeader(res: Res, name: string, value: string): void;
}
