import { BadRequestException, Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string cannot be stored, or undefined when it can. */
function problemOf(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the character U+0000';
  if (UNPAIRED_SURROGATE.test(text)) return 'must not contain unpaired UTF-16 surrogates';
  return undefined;
}

/**
 * Refuses, with a 400 naming the field, any string in a request body, query or path that
 * PostgreSQL cannot store: U+0000 in `text`/`jsonb` and unpaired surrogates in `jsonb` are refused
 * by the database (SQLSTATE 22021/22P05) — which would surface as a 500 from whatever query
 * first carried the value (a patient's name, a dead-letter filter, an audit entry's details).
 * Walks nested bodies without recursion: a deeply nested JSON document cannot exhaust the stack.
 */
@Injectable()
export class StorableTextPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body' && metadata.type !== 'query' && metadata.type !== 'param') return value;
    // A whole body or query has no name of its own; a single @Param('id') or @Query('x') has.
    const root = metadata.data ?? '';
    const pending: [string, unknown][] = [[root, value]];
    while (pending.length > 0) {
      const [path, item] = pending.pop() as [string, unknown];
      if (typeof item === 'string') {
        const problem = problemOf(item);
        if (problem !== undefined) throw new BadRequestException([`${path || metadata.type} ${problem}`]);
      } else if (Array.isArray(item)) {
        item.forEach((element, i) => pending.push([`${path}[${i}]`, element]));
      } else if (typeof item === 'object' && item !== null) {
        for (const [key, element] of Object.entries(item)) {
          const keyProblem = problemOf(key);
          if (keyProblem !== undefined) throw new BadRequestException([`a field name ${keyProblem}`]);
          pending.push([path ? `${path}.${key}` : key, element]);
        }
      }
    }
    return value;
  }
}
