import { ID, InvalidValue, OWNER, STANDARD, boolean, orNull, string, type ResourceDef, type Validator } from './attributes.js';
import { nonNegative, prefixList } from './net-validators.js';

/** validate_not_empty_string: a name, not blanks. */
const notEmpty: Validator = (value) => {
  const text = string(255)(value) as string;
  if (text.trim() === '') throw new InvalidValue(`'${text}' Blank strings are not permitted`);
  return text;
};

export const SUBNETPOOL: ResourceDef = {
  name: 'subnetpool',
  collection: 'subnetpools',
  notFound: 'SubnetPoolNotFound',
  notFoundMessage: (id) => `Subnet pool ${id} could not be found.`,
  attributes: {
    ...ID,
    ...OWNER,
    name: { post: true, put: true, validate: notEmpty, sort: true },
    prefixes: { post: true, put: true, validate: prefixList, filter: false },
    ip_version: { sort: true },
    default_prefixlen: { post: true, put: true, default: undefined, validate: nonNegative, sort: true },
    min_prefixlen: { post: true, put: true, default: undefined, validate: nonNegative, sort: true },
    max_prefixlen: { post: true, put: true, default: undefined, validate: nonNegative, sort: true },
    default_quota: { post: true, put: true, default: null, validate: orNull(nonNegative), sort: true },
    is_default: { post: true, put: true, default: false, validate: boolean, sort: true },
    shared: { post: true, default: false, validate: boolean, sort: true },
    ...STANDARD,
  },
};
