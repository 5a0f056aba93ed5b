// A YAML writer for Prometheus rule files, so that the generated file reads like a
// hand-written one: plain scalars where YAML allows them, expressions as literal blocks,
// long annotations folded (each on one line). std.manifestYamlDoc quotes every string,
// which promtool accepts but which hides the names the tests and people grep for.
local plainUnsafeStart = [
  '-',
  '?',
  ':',
  ',',
  '[',
  ']',
  '{',
  '}',
  '#',
  '&',
  '*',
  '!',
  '|',
  '>',
  "'",
  '"',
  '%',
  '@',
  '`',
  ' ',
];
local reserved = ['true', 'false', 'null', 'yes', 'no', 'on', 'off', '~', ''];

// findSubstr is slow in jsonnet 0.18: only short strings go through it.
local has(s, sub) = std.length(std.findSubstr(sub, s)) > 0;

local isPlain(s) =
  std.length(s) > 0
  && std.length(s) <= 100
  && !std.member(plainUnsafeStart, s[0])
  && s[std.length(s) - 1] != ' '
  && s[std.length(s) - 1] != ':'
  && !std.member(reserved, std.asciiLower(s))
  && !std.member(s, '\n')
  && !has(s, ': ')
  && !has(s, ' #')
  && !has(s, '{{');

local scalar(s, indent) =
  if std.member(s, '\n') then
    '|\n' + std.join('', [
      (if l == '' then '' else indent + '  ' + l) + '\n'
      for l in std.split(std.rstripChars(s, '\n'), '\n')
    ])
  else if isPlain(s) && std.length(indent) + std.length(s) <= 100 then s + '\n'
  // Folded, on one line: jsonnet 0.18 is too slow at wrapping long texts.
  else if s[0] != ' ' && s[std.length(s) - 1] != ' ' then '>-\n' + indent + '  ' + s + '\n'
  else std.escapeStringJson(s) + '\n';

// Keys of a rule in the order Prometheus' documentation lists them.
local ruleKeys = ['record', 'alert', 'expr', 'for', 'labels', 'annotations'];
local rule(r) =
  local ordered = [k for k in ruleKeys if std.objectHas(r, k)];
  std.join('', [
    (if i == 0 then '      - ' else '        ') + ordered[i] + ':'
    + (
      local v = r[ordered[i]];
      if std.isObject(v) then '\n' + std.join('', [
        '          ' + k + ': ' + scalar(std.toString(v[k]), '          ')
        // annotations in a fixed order: summary, description, runbook_url
        for k in (
          local pref = ['summary', 'description', 'runbook_url'];
          [k for k in pref if std.objectHas(v, k)]
          + [k for k in std.objectFields(v) if !std.member(pref, k)]
        )
      ])
      else ' ' + scalar(v, '        ')
    )
    for i in std.range(0, std.length(ordered) - 1)
  ]);

{
  // header: comment lines (without '# '), then the groups.
  rulesFile(header, groups)::
    std.join('', ['#' + (if l == '' then '' else ' ' + l) + '\n' for l in header])
    + '\ngroups:\n'
    + std.join('\n', [
      '  - name: ' + g.name + '\n    rules:\n' + std.join('\n', [rule(r) for r in g.rules])
      for g in groups
    ]),
}
