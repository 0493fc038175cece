import { pick, type Mutation } from './mutation.js';

/**
 * The unexpected_topic mutation: a message of the device sent to a topic next to its own (extra or
 * missing levels, case, another root, another or malformed device id), which the ingest must not take.
 */

export const unexpectedTopic: Mutation = (prng, draft, env) => {
  const root = env.topics.root;
  const id = env.device.deviceId;
  const kind = draft.kind;
  const variants: [string, string][] = [
    ['extra level', `${root}/devices/${id}/${kind}/extra`],
    ['trailing slash', `${root}/devices/${id}/${kind}/`],
    ['no kind level', `${root}/devices/${id}`],
    ['errors topic', `${root}/devices/${id}/errors`],
    ['kind in upper case', `${root}/devices/${id}/${kind.toUpperCase()}`],
    ['devices in upper case', `${root}/DEVICES/${id}/${kind}`],
    ['leading slash', `/${root}/devices/${id}/${kind}`],
    ['another root', `elsewhere/v1/devices/${id}/${kind}`],
    ['empty device level', `${root}/devices//${kind}`],
    ['device id in upper case', `${root}/devices/${id.toUpperCase()}/${kind}`],
    ['device id with a suffix', `${root}/devices/${id}x/${kind}`],
    ['300-character device id', `${root}/devices/${'d'.repeat(300)}/${kind}`],
    ['non-ASCII device id', `${root}/devices/ger\u00e4t-\u00fc-\ud800/${kind}`],
    ['device id with spaces', `${root}/devices/${id.slice(0, 8)} ${id.slice(9)}/${kind}`],
    ['unknown device', `${root}/devices/${prng.uuid()}/${kind}`],
  ];
  const [name, topic] = pick(prng, variants);
  draft.topic = topic;
  return name;
};
