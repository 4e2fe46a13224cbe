import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

// A policy engine for the oslo.policy rule language that OpenStack operators already write:
// `role:admin`, `is_admin:True`, `project_id:%(project_id)s`, `rule:name`, `@`, `!`,
// combined with `and`, `or`, `not` and parentheses. Policy files are YAML or JSON maps of
// rule name to rule text, overriding the defaults by name.

type Credentials = Record<string, unknown>;
type Target = Record<string, unknown>;
type Check = (creds: Credentials, target: Target, policy: Policy) => boolean;

export class PolicyParseError extends Error {
  override name = 'PolicyParseError';
}

/** Parentheses are tokens of their own, except inside a `%(name)s` substitution. */
function tokenize(text: string): string[] {
  return text.match(/[^\s()]*%\(\w+\)s|\(|\)|[^\s()]+/g) ?? [];
}

function substitute(value: string, target: Target): unknown {
  const m = /^%\((\w+)\)s$/.exec(value);
  if (!m) return value;
  return target[m[1]!];
}

function atomCheck(token: string): Check {
  if (token === '@') return () => true;
  if (token === '!') return () => false;
  const colon = token.indexOf(':');
  if (colon <= 0) throw new PolicyParseError(`'${token}' is not a check (kind:match)`);
  const kind = token.slice(0, colon);
  const match = token.slice(colon + 1);
  if (kind === 'rule') return (creds, target, policy) => policy.check(match, creds, target);
  if (kind === 'role') {
    return (creds, target) => {
      const wanted = String(substitute(match, target)).toLowerCase();
      return Array.isArray(creds.roles) && creds.roles.some((r) => String(r).toLowerCase() === wanted);
    };
  }
  // Generic check: a credential attribute against a literal or a target attribute.
  return (creds, target) => {
    const expected = substitute(match, target);
    const actual = creds[kind];
    if (expected === undefined || expected === null || actual === undefined || actual === null) return false;
    if (typeof actual === 'boolean') return String(actual).toLowerCase() === String(expected).toLowerCase();
    return String(actual) === String(expected);
  };
}

/** Recursive descent over: or := and ('or' and)*; and := not ('and' not)*; not := 'not' not | atom. */
export function parseRule(text: string): Check {
  const tokens = tokenize(text);
  if (tokens.length === 0) return () => true;
  let pos = 0;
  const peek = () => tokens[pos];
  const parseOr = (): Check => {
    const parts = [parseAnd()];
    while (peek() === 'or') {
      pos++;
      parts.push(parseAnd());
    }
    return parts.length === 1 ? parts[0]! : (c, t, p) => parts.some((part) => part(c, t, p));
  };
  const parseAnd = (): Check => {
    const parts = [parseNot()];
    while (peek() === 'and') {
      pos++;
      parts.push(parseNot());
    }
    return parts.length === 1 ? parts[0]! : (c, t, p) => parts.every((part) => part(c, t, p));
  };
  const parseNot = (): Check => {
    if (peek() === 'not') {
      pos++;
      const inner = parseNot();
      return (c, t, p) => !inner(c, t, p);
    }
    const token = tokens[pos++];
    if (token === undefined) throw new PolicyParseError(`rule '${text}' ends too early`);
    if (token === '(') {
      const inner = parseOr();
      if (tokens[pos++] !== ')') throw new PolicyParseError(`rule '${text}' has an unclosed parenthesis`);
      return inner;
    }
    if (token === ')' || token === 'and' || token === 'or') throw new PolicyParseError(`rule '${text}' has '${token}' out of place`);
    return atomCheck(token);
  };
  const check = parseOr();
  if (pos !== tokens.length) throw new PolicyParseError(`rule '${text}' has extra text after '${tokens[pos - 1]}'`);
  return check;
}

/** Rules shared by every API, with oslo.policy's usual names. */
export const BASE_RULES: Record<string, string> = {
  context_is_admin: 'role:admin',
  admin_or_owner: 'is_admin:True or project_id:%(project_id)s',
  default: 'rule:admin_or_owner',
};

export class Policy {
  private readonly rules = new Map<string, Check>();
  private readonly texts = new Map<string, string>();
  private depth = 0;

  constructor(defaults: Record<string, string>, overrides: Record<string, string> = {}) {
    for (const [name, text] of Object.entries({ ...BASE_RULES, ...defaults, ...overrides })) {
      try {
        this.rules.set(name, parseRule(text));
      } catch (err) {
        throw new PolicyParseError(`policy rule '${name}': ${(err as Error).message}`);
      }
      this.texts.set(name, text);
    }
  }

  /** A rule that is not defined falls back to `default`, as in oslo.policy. */
  check(name: string, creds: Credentials, target: Target): boolean {
    // A rule that refers to itself, directly or not, denies rather than recursing forever.
    if (this.depth > 20) return false;
    const rule = this.rules.get(name) ?? (name === 'default' ? undefined : this.rules.get('default'));
    if (!rule) return false;
    this.depth++;
    try {
      return rule(creds, target, this);
    } finally {
      this.depth--;
    }
  }

  ruleText(name: string): string | undefined {
    return this.texts.get(name);
  }
}

/** Reads a policy file of rule overrides (YAML or JSON). */
export function readPolicyFile(path: string): Record<string, string> {
  const text = readFileSync(path, 'utf8');
  const parsed: unknown = parseYaml(text);
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new PolicyParseError(`${path} is not a map of rule name to rule`);
  const rules: Record<string, string> = {};
  for (const [name, rule] of Object.entries(parsed)) {
    if (typeof rule !== 'string') throw new PolicyParseError(`${path}: rule '${name}' is not a string`);
    rules[name] = rule;
  }
  return rules;
}
