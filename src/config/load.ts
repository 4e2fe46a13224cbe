import { readFileSync } from 'node:fs';
import { parse as parseIni } from 'ini';
import { OPTIONS, type Config, type OptionSpec, type OptionType, type SectionName } from './options.js';

/** Start-up stops with this; the message names the option and where its value came from. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Where an option's effective value came from, for `config show` and error messages. */
export type Origin = 'default' | 'override' | 'env' | { file: string };

export interface LoadedConfig {
  config: Config;
  origins: Record<string, Record<string, Origin>>;
  /** Options present in a file but unknown to this program (ignored, as oslo.config does). */
  unknown: string[];
}

export interface LoadOptions {
  files?: string[];
  env?: NodeJS.ProcessEnv;
  /** Defaults of a particular command (e.g. `tricircle up`); files and environment still win. */
  overrides?: Partial<Record<SectionName, Record<string, string>>>;
}

const ENV_PREFIX = 'TRICIRCLE_';

export function envName(section: string, option: string): string {
  return `${ENV_PREFIX}${section.toUpperCase()}__${option.toUpperCase()}`;
}

function describe(origin: Origin): string {
  if (typeof origin === 'object') return `in ${origin.file}`;
  if (origin === 'env') return 'from the environment';
  return `(${origin})`;
}

function convert(raw: string, type: OptionType): number | boolean | string | string[] {
  const text = raw.trim();
  switch (type.kind) {
    case 'string':
      return text;
    case 'int':
    case 'float': {
      const ok = type.kind === 'int' ? /^[+-]?\d+$/.test(text) : /^[+-]?(\d+\.?\d*|\.\d+)$/.test(text);
      if (!ok) throw new Error(`'${text}' is not ${type.kind === 'int' ? 'an integer' : 'a number'}`);
      const value = Number(text);
      if (type.min !== undefined && value < type.min) throw new Error(`${value} is below the minimum ${type.min}`);
      if (type.max !== undefined && value > type.max) throw new Error(`${value} is above the maximum ${type.max}`);
      return value;
    }
    case 'bool': {
      const lower = text.toLowerCase();
      if (['true', 'yes', 'on', '1'].includes(lower)) return true;
      if (['false', 'no', 'off', '0'].includes(lower)) return false;
      throw new Error(`'${text}' is not a boolean (true or false)`);
    }
    case 'enum':
      if (!type.choices.includes(text)) throw new Error(`'${text}' is not one of ${type.choices.join(', ')}`);
      return text;
    case 'list':
      return text === '' ? [] : text.split(',').map((item) => item.trim());
  }
}

/**
 * Builds the effective configuration: defaults, then command overrides, then each
 * --config-file in order (later files win), then TRICIRCLE_<SECTION>__<OPTION> variables.
 */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const raw: Record<string, Record<string, { value: string | null; origin: Origin }>> = {};
  const unknown: string[] = [];
  const sections = OPTIONS as Record<string, Record<string, OptionSpec>>;
  for (const [section, opts] of Object.entries(sections)) {
    raw[section] = {};
    for (const [name, spec] of Object.entries(opts)) raw[section]![name] = { value: spec.default, origin: 'default' };
  }
  const set = (section: string, name: string, value: unknown, origin: Origin) => {
    const target = raw[section]?.[name];
    if (!target) {
      unknown.push(`[${section}] ${name} ${describe(origin)}`);
      return;
    }
    // The ini parser turns `true`/`false` into booleans; everything else arrives as text.
    if (typeof value !== 'string' && typeof value !== 'boolean') {
      throw new ConfigError(`Invalid value for option [${section}] ${name} ${describe(origin)}: expected a single value`);
    }
    target.value = String(value);
    target.origin = origin;
  };

  for (const [section, values] of Object.entries(options.overrides ?? {})) {
    for (const [name, value] of Object.entries(values ?? {})) set(section, name, value, 'override');
  }
  for (const file of options.files ?? []) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`Cannot read config file ${file}: ${(err as Error).message}`);
    }
    const parsed = parseIni(text) as Record<string, unknown>;
    for (const [section, values] of Object.entries(parsed)) {
      if (typeof values !== 'object' || values === null) {
        // ini puts options that precede any section header at the top level.
        set('DEFAULT', section, values, { file });
        continue;
      }
      for (const [name, value] of Object.entries(values)) set(section, name, value, { file });
    }
  }
  const env = options.env ?? process.env;
  for (const [section, opts] of Object.entries(sections)) {
    for (const name of Object.keys(opts)) {
      const value = env[envName(section, name)];
      if (value !== undefined) set(section, name, value, 'env');
    }
  }

  const config: Record<string, Record<string, unknown>> = {};
  const origins: Record<string, Record<string, Origin>> = {};
  for (const [section, opts] of Object.entries(sections)) {
    config[section] = {};
    origins[section] = {};
    for (const [name, spec] of Object.entries(opts)) {
      const { value, origin } = raw[section]![name]!;
      origins[section]![name] = origin;
      if (value === null) {
        config[section]![name] = null;
        continue;
      }
      try {
        config[section]![name] = convert(value, spec.type);
      } catch (err) {
        throw new ConfigError(`Invalid value for option [${section}] ${name} ${describe(origin)}: ${(err as Error).message}`);
      }
    }
  }
  return { config: config as Config, origins, unknown };
}

/** Lines of `section.option = value`, secrets masked, for `tricircle config show`. */
export function showConfig(loaded: LoadedConfig): string {
  const lines: string[] = [];
  const sections = OPTIONS as Record<string, Record<string, OptionSpec>>;
  for (const [section, opts] of Object.entries(sections)) {
    lines.push(`[${section}]`);
    for (const [name, spec] of Object.entries(opts)) {
      const value = (loaded.config as Record<string, Record<string, unknown>>)[section]![name];
      const origin = loaded.origins[section]![name]!;
      let text = value === null ? '<unset>' : Array.isArray(value) ? value.join(',') : String(value);
      if (spec.secret && value !== null) text = maskSecret(text);
      const from = typeof origin === 'object' ? origin.file : origin;
      lines.push(`${name} = ${text}    # ${from}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** Masks a secret; for a URL only the password part, so the host stays visible. */
export function maskSecret(text: string): string {
  const url = /^([a-z0-9+]+:\/\/[^:/@]*:)([^@]*)(@.*)$/i.exec(text);
  if (url) return `${url[1]}***${url[3]}`;
  if (/^[a-z0-9+]+:\/\//i.test(text)) return text;
  return '***';
}
