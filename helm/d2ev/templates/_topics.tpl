{{/*
The d2ev topics: the one list in the chart. It MUST match d2ev_topic_specs in
common/topics.c (names in include/d2ev/topics.h): name, compacted
(cleanup.policy=compact) and vehicleKeyed (co-partitioned with the fleet:
topics.partitions partitions; the others get topics.otherPartitions).
`tests/deploy/run.sh topics` (ctest deploy.topics) renders the KafkaTopics and compares them with the
C table, so CI fails when one changes without the other.
*/}}
{{- define "d2ev.topics" -}}
- {name: d2ev.registration.requests, compacted: false, vehicleKeyed: true}
- {name: d2ev.registration.results, compacted: false, vehicleKeyed: true}
- {name: d2ev.vehicles, compacted: true, vehicleKeyed: true}
- {name: d2ev.credentials, compacted: true, vehicleKeyed: true}
- {name: d2ev.telemetry, compacted: false, vehicleKeyed: true}
- {name: d2ev.sessions, compacted: false, vehicleKeyed: true}
- {name: d2ev.forecasts, compacted: false, vehicleKeyed: false}
- {name: d2ev.capacity, compacted: true, vehicleKeyed: false}
- {name: d2ev.schedules, compacted: true, vehicleKeyed: true}
- {name: d2ev.dispatch, compacted: false, vehicleKeyed: true}
- {name: d2ev.notifications, compacted: false, vehicleKeyed: true}
- {name: d2ev.control, compacted: false, vehicleKeyed: true}
- {name: d2ev.deadletter, compacted: false, vehicleKeyed: false}
{{- end -}}

{{/*
Each topic with the config the chart gives it: topics.strimzi.config, then
compactedConfig or deleteConfig by kind (cleanup.policy set accordingly), then
exporterConfig while services.exporter.enabled, then overrides. A YAML list of
{name, compacted, vehicleKeyed, partitions, config}.
*/}}
{{- define "d2ev.topicConfigs" -}}
{{- $root := . -}}
{{- $s := .Values.topics.strimzi -}}
{{- range (include "d2ev.topics" . | fromYamlArray) }}
{{- $config := deepCopy (default dict $s.config) -}}
{{- if .compacted -}}
{{- $config = mergeOverwrite $config (deepCopy (default dict $s.compactedConfig)) -}}
{{- $_ := set $config "cleanup.policy" "compact" -}}
{{- else -}}
{{- $config = mergeOverwrite $config (deepCopy (default dict $s.deleteConfig)) -}}
{{- $_ := set $config "cleanup.policy" "delete" -}}
{{- end -}}
{{- if $root.Values.services.exporter.enabled -}}
{{- $config = mergeOverwrite $config (deepCopy (default dict (index (default dict $s.exporterConfig) .name))) -}}
{{- end -}}
{{- $config = mergeOverwrite $config (deepCopy (default dict (index (default dict $s.overrides) .name))) }}
- name: {{ .name }}
  compacted: {{ .compacted }}
  vehicleKeyed: {{ .vehicleKeyed }}
  partitions: {{ ternary $root.Values.topics.partitions $root.Values.topics.otherPartitions .vehicleKeyed }}
  config: {{ $config | toJson }}
{{- end }}
{{- end -}}
