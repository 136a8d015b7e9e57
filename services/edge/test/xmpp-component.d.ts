// @xmpp/component 0.13 ships no types; this covers what the tests use.
declare module '@xmpp/component' {
  export interface XmlElement {
    name: string;
    attrs: Record<string, string | undefined>;
    is(name: string, xmlns?: string): boolean;
    getChild(name: string, xmlns?: string): XmlElement | undefined;
    getChildText(name: string, xmlns?: string): string | null;
    toString(): string;
  }

  export function xml(
    name: string,
    attrs?: Record<string, string | undefined>,
    ...children: (XmlElement | string)[]
  ): XmlElement;

  export interface Component {
    on(event: 'error', listener: (error: { condition?: string }) => void): this;
    on(event: 'stanza', listener: (element: XmlElement) => void): this;
    readonly status: string;
    readonly jid: { toString(): string } | null;
    readonly reconnect: { stop(): void };
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(element: XmlElement): Promise<void>;
  }

  export function component(options: { service: string; domain: string; password: string }): Component;
}
