/**
 * A minimal Azure Resource Manager reader for the preflight: GET with the deploying identity's own
 * Entra ID token (azure-native getClientToken, ARM audience), following `nextLink` pages. Only reads,
 * so the preview's read-only identity (Reader) is enough. Errors name the call and ARM's own answer.
 */

export const ARM_ENDPOINT = "https://management.azure.com";

/** Reads one ARM path (with its query) and returns the parsed JSON body. */
export type ArmGet = (pathAndQuery: string) => Promise<unknown>;

export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = "ArmError";
  }
}

function errorOf(status: number, path: string, text: string): ArmError {
  let code = `HTTP ${status}`;
  let message = text.slice(0, 300);
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === "string") code = body.error.code;
    if (typeof body.error?.message === "string") message = body.error.message;
  } catch {
    // Not JSON (a proxy's HTML page, say): keep the start of the text.
  }
  return new ArmError(status, code, path, `GET ${path.split("?")[0]} failed with ${code}: ${message}`);
}

/** An ArmGet bound to a bearer token; `fetchImpl` is the global fetch unless a test passes its own. */
export function armReader(token: string, fetchImpl: typeof fetch = (...args) => fetch(...args)): ArmGet {
  const getOne = async (url: string, path: string): Promise<unknown> => {
    const response = await fetchImpl(url, {
      method: "GET",
      headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
    });
    const text = await response.text();
    if (!response.ok) throw errorOf(response.status, path, text);
    return JSON.parse(text) as unknown;
  };
  return async (pathAndQuery) => {
    const first = await getOne(`${ARM_ENDPOINT}${pathAndQuery}`, pathAndQuery);
    // List operations page with nextLink (an absolute URL); merge every page's `value` into the first.
    if (typeof first !== "object" || first === null) return first;
    const page = first as { value?: unknown; nextLink?: unknown };
    if (!Array.isArray(page.value)) return first;
    const value: unknown[] = [...page.value];
    let next = typeof page.nextLink === "string" ? page.nextLink : undefined;
    for (let pages = 0; next !== undefined && pages < 50; pages++) {
      const more = (await getOne(next, pathAndQuery)) as { value?: unknown; nextLink?: unknown };
      if (Array.isArray(more.value)) value.push(...more.value);
      next = typeof more.nextLink === "string" ? more.nextLink : undefined;
    }
    return { ...page, value, nextLink: undefined };
  };
}
