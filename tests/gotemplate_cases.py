"""Alert label and annotation templates, each with what Prometheus says of it: None when it
parses, else a fragment of the message. The same table drives the unit tests of
pulse_operator.api.gotemplate and their check against the real promtool, so the port and
Prometheus cannot drift apart unseen.
"""

from __future__ import annotations

SLO_BUDGET = (
    '{{ with query `pulse:slo_error_budget_remaining{slo="api"}` }}'
    "{{ $left := . | first | value }}{{ if ge $left 0.0 }}{{ humanizePercentage $left }}"
    "{{ else }}none, it is overspent{{ end }}{{ else }}unknown{{ end }}"
)

VALID: list[str] = [
    # Pulse's own templates
    "Collector {{ $labels.namespace }}/{{ $labels.collector }} is failing",
    "Pod {{ $labels.pod }} reports {{ $value | humanize }} errors per second",
    "({{ if $labels.pod }}pod {{ $labels.pod }}{{ else }}no scrape target exists at all{{ end }})",
    "{{ if $labels.instance }}{{ $labels.instance }} ({{ $labels.job }}){{ else }}none{{ end }}",
    "The durable spool is at {{ $value | humanizePercentage }}",
    '{{ printf "%.1f" $value }}',
    SLO_BUDGET,
    # what users write
    "",
    "plain text, no action",
    '{{ printf "%.2f" $value }}',
    '{{ with query "up" }}{{ . | first | value }}{{ end }}',
    '{{ query "up" | first | label "instance" }}',
    "{{- /* comment */ -}}",
    "{{/* a comment\nover two lines */}}",
    "{{ $value|humanize }}",
    "{{if $labels.pod}}{{$labels.pod}}{{end}}",
    "{{- $labels.x -}}",
    "{{ $labels.x -}} and {{- $labels.y }}",
    "line one\n{{ $labels.x }}\nline three",
    "{{ humanizeDuration $value }} {{ humanize1024 $value }} {{ humanizeTimestamp $value }}",
    '{{ index $labels "team-name" }}',
    "{{ $externalLabels.cluster }} {{ $externalURL }} {{ $.Labels.x }} {{ .Labels.instance }}",
    '{{ reReplaceAll "(.*):.*" "$1" $labels.instance | toUpper }}',
    "{{ title (stripDomain $labels.instance) }}",
    "{{ if and (gt $value 1.0) (lt $value 5.0) }}mid{{ end }}",
    '{{ printf "%s" (index $labels "a") | toUpper | printf "%s!" }}',
    "{{ if $labels.a }}a{{ else if $labels.b }}b{{ else }}c{{ end }}",
    "{{ with $labels.a }}{{ . }}{{ else with $labels.b }}{{ . }}{{ end }}",
    "{{ with $x := $labels.a }}{{ $x }}{{ end }}",
    "{{ range $i, $v := $labels }}{{ $i }}={{ $v }} {{ end }}",
    '{{ range $labels }}{{ if eq . "x" }}{{ break }}{{ end }}{{ continue }}{{ end }}',
    "{{ range $labels }}{{ . }}{{ else }}no labels{{ end }}",
    "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}",
    '{{ define "t" }}[{{ . }}]{{ end }}{{ template "t" $labels.x }}',
    '{{ block "b" $labels }}{{ .x }}{{ end }}',
    '{{ template "not-defined-anywhere" }}',
    "{{ `raw \"string\"` }} {{ '\\'' }} {{ 'é' }}",
    '{{ "\\u00e9\\n\\t\\\\ \\x41 \\101" }}',
    "{{ 1e3 }} {{ -1.5 }} {{ 0x1F }} {{ 1_000 }} {{ 0x1p-2 }} {{ .5 }} {{ 2i }} {{ 1+2i }}",
    "{{ now }} {{ pathPrefix }} {{ externalURL }} {{ args 1 2 }} {{ call }}",
    "a }} b",  # a lone }} is text
    "{ not an action }",
    "{{ $value }}}",
    "}}{{ $value }}",
    # Go accepts these, surprisingly
    "{{ $labels.x | }}",  # a trailing |
    "{{ $notDeclared = 1 }}",  # = does not check that its variable exists
    "{{ nil }}",  # fails when run, not when parsed
    "{{ (1).x }}",
    "{{ ($x := 1) }}{{ $x }}",  # declared in parentheses: in scope until the end
]

INVALID: list[tuple[str, str]] = [
    ("{{ $labels.x", "unclosed action"),
    ("{{", "unclosed action"),
    ("price {{", "unclosed action"),  # a lone {{ starts an action
    ("{{ end", "unclosed action"),
    ("{{ end }}", "unexpected {{end}}"),
    ("{{ if $value }}{{ end }}{{ end }}", "unexpected {{end}}"),
    ("{{ else }}", "unexpected {{else}}"),
    ("{{ if }}", "missing value for if"),
    ("{{ }}", "missing value for command"),
    ("{{ $value := }}", "missing value for command"),
    ('{{ block "b" }}{{ end }}', "missing value for block clause"),
    ("{{ humanise $value }}", 'function "humanise" not defined'),
    ("{{ humanize 1 2 | humanise }}", 'function "humanise" not defined'),
    ("{{ $nope }}", 'undefined variable "$nope"'),
    ("{{ $lables.pod }}", 'undefined variable "$lables"'),
    ("{{ $lábels }}", 'undefined variable "$lábels"'),
    ("{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}", 'undefined variable "$x"'),
    ("{{ with $x := 1 }}{{ end }}{{ $x }}", 'undefined variable "$x"'),
    ('{{ define "t" }}{{ $labels.x }}{{ end }}', 'undefined variable "$labels"'),
    ('{{ "unterminated }}', "unterminated quoted string"),
    ("{{ `raw }}", "unterminated raw quoted string"),
    ("{{ 'a }}", "unterminated character constant"),
    ("{{ if $value }}x", "unexpected EOF"),
    ('{{ define "t" }}x', "unexpected EOF"),
    ("{{ if $value }}a{{ else }}b{{ else }}c{{ end }}", "expected end; found {{else}}"),
    ("{{ if $value }}a{{ else with $labels }}b{{ end }}", "unexpected <with> in input"),
    ("{{ with $labels }}a{{ else if $value }}b{{ end }}", "unexpected <if> in input"),
    ("{{ break }}", "{{break}} outside {{range}}"),
    ("{{ range $labels }}{{ end }}{{ break }}", "{{break}} outside {{range}}"),
    ("{{ range $labels }}{{ else }}{{ continue }}{{ end }}", "{{continue}} outside {{range}}"),
    ('{{ range $labels }}{{ block "b" . }}{{ break }}{{ end }}{{ end }}', "outside {{range}}"),
    ('{{ if $value }}{{ define "t" }}x{{ end }}{{ end }}', "unexpected <define> in command"),
    ('{{ define "t" }}a{{ end }}{{ define "t" }}b{{ end }}', "multiple definition of template"),
    ("{{ template $labels.x }}", 'unexpected "$labels" in template clause'),
    ("{{ $labels.team-name }}", "bad character U+002D '-'"),
    ("{{ $labels.0 }}", 'unexpected ".0" in operand'),
    ('{{ "a""b" }}', 'unexpected "\\"b\\"" in operand'),
    ("{{ /* not a comment */ }}", 'unexpected "/" in command'),
    ("{{/* comment */ }}", "comment ends before closing delimiter"),
    ("{{/* unclosed }}", "unclosed comment"),
    ("{{ {{ $value }}", 'unexpected "{" in command'),
    ("{{{ $value }}", 'unexpected "{" in command'),
    ("{{ $labels.x | | toUpper }}", 'unexpected "|" in command'),
    ("{{ $value | 'x' }}", "non executable command in pipeline stage 2"),
    ('{{ $value | humanize | "x" }}', "non executable command in pipeline stage 3"),
    ('{{ "x".y }}', "unexpected . after term"),
    ("{{ nil.x }}", 'unexpected . after term "nil"'),
    ("{{ (humanize $value }}", "unclosed left paren"),
    ("{{ humanize $value) }}", "unexpected right paren"),
    ("{{ $a, $b := $labels }}", "too many declarations in command"),
    ("{{ range $a, $b, $c := $labels }}{{ end }}", "too many declarations in range"),
    ("{{ range $a, 1 }}{{ end }}", "range can only initialize variables"),
    ("{{ $value : 1 }}", "expected :="),
    ("{{ $value → 1 }}", "unrecognized character in action: U+2192"),
    ("{{ 'ab' }}", "malformed character constant: 'ab'"),
    ("{{ '' }}", "invalid syntax"),
    ("{{ '\\\"' }}", "invalid syntax"),
    ('{{ "\\q" }}', "invalid syntax"),
    ('{{ "\\ud800" }}', "invalid syntax"),
    ('{{ "\\400" }}', "invalid syntax"),
    ("{{ 3x }}", 'bad number syntax: "3x"'),
    ("{{ 1e400 }}", 'illegal number syntax: "1e400"'),
    ("{{ 0x1.8 }}", 'illegal number syntax: "0x1.8"'),
    ("{{ 1__0 }}", 'illegal number syntax: "1__0"'),
    ("{{ 99999999999999999999 }}", "integer overflow"),
    ("{{ 089 }}", 'integer overflow: "089"'),  # octal 08 fails, float 89 looks an integer
    ("{{- -}}", 'illegal number syntax: "-"'),  # "{{- " takes the space: "-}}" is left
    ("{{-}}", 'illegal number syntax: "-"'),
]
