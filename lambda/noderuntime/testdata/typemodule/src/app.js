// A .js file under "type": "module": loaded with import().
// _HANDLER=src/app.handler.
import { basename } from 'node:path';

export async function handler(event) {
  return { module: 'type-module', file: basename(new URL(import.meta.url).pathname), event };
}
