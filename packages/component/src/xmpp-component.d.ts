// @xmpp/component 0.13 ships no types; this covers what the component transport uses.
declare module '@xmpp/component' {
  export interface XmlElement {
    name: string;
    attrs: Record<string, string | undefined>;
    children: (XmlElement | string)[];
    toString(): string;
  }

  export function xml(
    name: string,
    attrs?: Record<string, string | undefined>,
    ...children: (XmlElement | string)[]
  ): XmlElement;

  export interface Component {
    on(event: 'error', listener: (error: Error & { condition?: string }) => void): this;
    on(event: 'stanza', listener: (element: XmlElement) => void): this;
    on(event: 'online' | 'offline', listener: () => void): this;
    on(event: 'status', listener: (status: string) => void): this;
    listeners(event: 'element'): ((element: XmlElement) => void)[];
    off(event: 'element', listener: (element: XmlElement) => void): this;
    readonly status: string;
    readonly reconnect: { stop(): void; start(): void };
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(element: XmlElement): Promise<void>;
  }

  export function component(options: { service: string; domain: string; password: string }): Component;
}
