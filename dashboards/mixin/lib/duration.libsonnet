// Prometheus durations in words, so that an alert's description says how long its
// condition has held from the same `for:` that _config.alertFor sets: '1m' is 'a minute',
// '2m' '2 minutes', '90s' '90 seconds', '1h' 'an hour'. Other forms ('1h30m', '1d') are
// kept as written.
local units = { s: ['a second', 'seconds'], m: ['a minute', 'minutes'], h: ['an hour', 'hours'] };

{
  humanize(d)::
    local unit = d[std.length(d) - 1];
    local number = std.substr(d, 0, std.length(d) - 1);
    local digits = std.length(number) > 0
                   && std.length([ch for ch in std.stringChars(number) if !std.member('0123456789', ch)]) == 0;
    if !std.objectHas(units, unit) || !digits then d
    else if std.parseInt(number) == 1 then units[unit][0]
    else '%d %s' % [std.parseInt(number), units[unit][1]],
}
