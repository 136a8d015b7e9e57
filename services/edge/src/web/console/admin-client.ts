/** What the admin HTTP API (docs/admin-api.md) answered. */
export interface AdminResponse {
  readonly status: number;
  readonly contentType: string | null;
  readonly text: string;
}

/** A JSON body the API sent, or the API's error shape (`{error, message}`), or a transport failure. */
export type AdminResult<T> =
  | { readonly ok: true; readonly status: number; readonly body: T }
  | { readonly ok: false; readonly status: number; readonly error: string; readonly message: string };

const TIMEOUT_MS = 10_000;

/** The console's only way to the cluster: the admin HTTP API, with the token kept on the server. */
export class AdminClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly token: string,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  /** `path` starts with `/` and may carry a query string; it is appended to the API's base URL. */
  async request(method: string, path: string, body?: string): Promise<AdminResponse> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const response = await fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        redirect: 'manual',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      return {
        status: response.status,
        contentType: response.headers.get('content-type'),
        text: await response.text(),
      };
    } catch (error) {
      return {
        status: 502,
        contentType: 'application/json',
        text: JSON.stringify({
          error: 'upstream-unavailable',
          message: `the admin API did not answer: ${error instanceof Error ? error.message : String(error)}`,
        }),
      };
    }
  }

  async get<T>(path: string): Promise<AdminResult<T>> {
    const response = await this.request('GET', path);
    let parsed: unknown = null;
    try {
      parsed = response.text === '' ? null : JSON.parse(response.text);
    } catch {
      // not JSON: reported below
    }
    if (response.status >= 200 && response.status < 300 && parsed !== null) {
      return { ok: true, status: response.status, body: parsed as T };
    }
    const fields = (parsed ?? {}) as { error?: unknown; message?: unknown };
    return {
      ok: false,
      status: response.status,
      error: typeof fields.error === 'string' ? fields.error : `http-${response.status}`,
      message: typeof fields.message === 'string' ? fields.message : response.text.slice(0, 200),
    };
  }
}
