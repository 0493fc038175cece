// qlobber 8 ships no type declarations: the parts the broker persistence uses.

declare module 'qlobber' {
  interface QlobberOptions {
    readonly separator?: string;
    readonly wildcard_one?: string;
    readonly wildcard_some?: string;
  }
  /** Answers only whether a topic matches one of the added patterns. */
  export class QlobberTrue {
    constructor(options?: QlobberOptions);
    add(topic: string): this;
    test(topic: string): boolean;
  }
}

declare module 'qlobber/aedes/qlobber-sub.js' {
  interface QlobberSubValue {
    readonly clientId: string;
    readonly topic: string;
    readonly qos?: number;
    readonly rh?: number;
    readonly rap?: boolean;
    readonly nl?: boolean;
  }
  /** The subscription trie of aedes-persistence's memory store: one value per (client, topic filter). */
  export default class QlobberSub {
    constructor(options?: { separator?: string; wildcard_one?: string; wildcard_some?: string });
    readonly subscriptionsCount: number;
    add(topic: string, value: QlobberSubValue): this;
    remove(topic: string, value: { readonly clientId: string; readonly topic: string }): this;
    match(topic: string): (QlobberSubValue & Record<string, unknown>)[];
  }
}
