/**
 * The dated GPU price table (cost/gpuPrices.json), read and checked once: every price names its
 * source, and a retired size carries its retirement date instead of a price.
 */
import table from "./gpuPrices.json";

export interface PricedSize {
  readonly kind: "priced";
  readonly usdPerHour: number;
  /** The Azure region the price is for; null when the source does not say. */
  readonly region: string | null;
  readonly source: string;
}

export interface RetiredSize {
  readonly kind: "retired";
  readonly retired: string;
}

export interface PriceTable {
  readonly currency: string;
  readonly region: string;
  readonly recordedOn: string;
  readonly sizes: Readonly<Record<string, PricedSize | RetiredSize>>;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Validates the raw JSON; a malformed entry is an error naming the size and the field. */
export function parsePriceTable(raw: unknown): PriceTable {
  const fail = (what: string): never => {
    throw new Error(`cost/gpuPrices.json: ${what}`);
  };
  if (typeof raw !== "object" || raw === null) return fail("is not a JSON object");
  const { currency, region, recordedOn, sizes } = raw as Record<string, unknown>;
  if (currency !== "USD") fail(`currency must be "USD", got ${JSON.stringify(currency)}`);
  if (typeof region !== "string" || region === "") fail("region must name an Azure region");
  if (typeof recordedOn !== "string" || !ISO_DATE.test(recordedOn))
    fail("recordedOn must be a YYYY-MM-DD date");
  if (typeof sizes !== "object" || sizes === null) return fail("sizes must be an object keyed by VM size");
  const parsed: Record<string, PricedSize | RetiredSize> = {};
  for (const [size, entry] of Object.entries(sizes as Record<string, unknown>)) {
    const e = (typeof entry === "object" && entry !== null ? entry : {}) as Record<string, unknown>;
    if (typeof e.retired === "string") {
      if (!ISO_DATE.test(e.retired)) fail(`${size}.retired must be a YYYY-MM-DD date`);
      if (e.usdPerHour !== undefined) fail(`${size} is retired, so it must not carry a price`);
      parsed[size] = { kind: "retired", retired: e.retired };
      continue;
    }
    if (typeof e.usdPerHour !== "number" || !(e.usdPerHour > 0))
      fail(`${size}.usdPerHour must be a positive number`);
    if (typeof e.source !== "string" || !e.source.startsWith("https://"))
      fail(`${size}.source must be an https URL`);
    if (e.region !== null && typeof e.region !== "string")
      fail(`${size}.region must be a region name or null`);
    parsed[size] = {
      kind: "priced",
      usdPerHour: e.usdPerHour as number,
      region: (e.region as string | null) ?? null,
      source: e.source as string,
    };
  }
  return {
    currency: currency as string,
    region: region as string,
    recordedOn: recordedOn as string,
    sizes: parsed,
  };
}

export const gpuPriceTable: PriceTable = parsePriceTable(table);
