export { OPTIONS, type Config, type OptionSpec, type SectionName } from './options.js';
export { loadConfig, showConfig, maskSecret, envName, ConfigError, type LoadedConfig, type LoadOptions } from './load.js';
