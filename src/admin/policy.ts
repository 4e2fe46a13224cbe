// Upstream Tricircle's Admin API rules, by name; every action is admin-only by default and
// any of them can be overridden in [oslo_policy] policy_file.
export const ADMIN_API_RULES: Record<string, string> = {
  admin_api: 'is_admin:True',
  'admin_api:pods:create': 'rule:admin_api',
  'admin_api:pods:delete': 'rule:admin_api',
  'admin_api:pods:show': 'rule:admin_api',
  'admin_api:pods:list': 'rule:admin_api',
  'admin_api:routings:create': 'rule:admin_api',
  'admin_api:routings:delete': 'rule:admin_api',
  'admin_api:routings:put': 'rule:admin_api',
  'admin_api:routings:show': 'rule:admin_api',
  'admin_api:routings:list': 'rule:admin_api',
  'admin_api:jobs:create': 'rule:admin_api',
  'admin_api:jobs:list': 'rule:admin_api',
  'admin_api:jobs:show': 'rule:admin_api',
  'admin_api:jobs:schema_list': 'rule:admin_api',
  'admin_api:jobs:redo': 'rule:admin_api',
  'admin_api:jobs:delete': 'rule:admin_api',
};
