/**
 * Section: the deployment's `tags`, `properties` and `description` (Azure ML's webservice parameters of
 * those names; issue 23). Tags land on the Azure resources this program creates (Azure tags), on the model
 * version's registration (its tags) and on the scoring Kubernetes objects (labels); properties on the
 * scoring Kubernetes objects as annotations; the description on the workspace and as the objects'
 * `description` annotation. Tags are written `key=value,key=value` and must be valid Kubernetes label keys
 * and values (a subset of what Azure tags allow), so one spelling fits both.
 */
import type { ConfigKey } from "../configSchema";
import type { Reader } from "./reader";

export interface MetadataSettings {
  readonly tags: Readonly<Record<string, string>>;
  readonly properties: Readonly<Record<string, string>>;
  readonly description: string;
}

// Kubernetes label name (without prefix) and value rules: 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends.
const LABEL = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const LABEL_VALUE = /^(([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?)$/;
// Azure allows at most 50 tags per resource; this program adds two of its own (pulumi-project, pulumi-stack).
const MAX_TAGS = 45;

function pairs(r: Reader, key: ConfigKey & ("tags" | "properties"), value: RegExp): Record<string, string> {
  const result: Record<string, string> = {};
  const text = r.string(key);
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")) {
    const equals = part.indexOf("=");
    const name = equals < 0 ? part : part.slice(0, equals).trim();
    const val = equals < 0 ? "" : part.slice(equals + 1).trim();
    if (equals < 0 || !LABEL.test(name) || !value.test(val)) {
      r.problem(
        key,
        part,
        `is not name=value with a name of 1-63 letters, digits, '-', '_' or '.' (starting and ending alphanumeric)${key === "tags" ? " and a value of the same form (0-63 characters)" : " and a value without ','"}`,
        `pulumi config set ${key} "team=vision,costcenter=4711"`,
      );
      continue;
    }
    result[name] = val;
  }
  return result;
}

export function metadataSection(r: Reader): MetadataSettings {
  const tags = pairs(r, "tags", LABEL_VALUE);
  if (Object.keys(tags).length > MAX_TAGS) {
    r.problem(
      "tags",
      r.string("tags"),
      `sets ${Object.keys(tags).length} tags; Azure allows 50 per resource and the program uses 2`,
      `keep at most ${MAX_TAGS} tags`,
    );
  }
  const properties = pairs(r, "properties", /^[^,]{0,256}$/);
  const description = r.string("description");
  if (description.length > 256) {
    r.problem(
      "description",
      `${description.slice(0, 40)}...`,
      "is longer than 256 characters",
      'pulumi config set description "<a sentence>"',
    );
  }
  return { tags, properties, description };
}
