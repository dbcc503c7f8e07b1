{{/*
Checks that need more than values.schema.json: relations between values.
Rendered once (from configmap.yaml); each failure names the value to change.
*/}}
{{- define "d2ev.validate" -}}
{{- $root := . -}}
{{- $topicNames := list -}}
{{- range (include "d2ev.topics" . | fromYamlArray) -}}
{{- $topicNames = append $topicNames .name -}}
{{- end -}}

{{- /* Kafka security */ -}}
{{- $proto := .Values.kafka.securityProtocol -}}
{{- if hasPrefix "sasl_" $proto -}}
{{- if not .Values.kafka.sasl.mechanism -}}
{{- fail (printf "kafka.securityProtocol=%s needs kafka.sasl.mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)" $proto) -}}
{{- end -}}
{{- if not .Values.kafka.sasl.username -}}
{{- fail (printf "kafka.securityProtocol=%s needs kafka.sasl.username" $proto) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.kafka.tls.ca.secretName .Values.kafka.tls.ca.configMapName -}}
{{- fail "kafka.tls.ca: set secretName or configMapName, not both" -}}
{{- end -}}
{{- if and (or .Values.kafka.tls.ca.secretName .Values.kafka.tls.ca.configMapName .Values.kafka.tls.clientCert.secretName) (not (hasSuffix "ssl" $proto)) -}}
{{- fail (printf "kafka.tls is set but kafka.securityProtocol=%s does not use TLS (want ssl or sasl_ssl)" $proto) -}}
{{- end -}}
{{- if regexMatch "(?i)(^|,)[^=,]*(password|secret|oauthbearer\\.config)[^=,]*=" .Values.kafka.extra -}}
{{- fail "kafka.extra lands in a ConfigMap: put no passwords or secrets there (use kafka.sasl.password)" -}}
{{- end -}}

{{- /* Environment maps: non-secret, and not the settings the chart owns */ -}}
{{- $owned := list "D2EV_KAFKA_BROKERS" "D2EV_KAFKA_SECURITY_PROTOCOL" "D2EV_KAFKA_SASL_MECHANISM" "D2EV_KAFKA_SASL_USERNAME" "D2EV_KAFKA_SSL_CA_LOCATION" "D2EV_KAFKA_EXTRA" "D2EV_ADMIN_PORT" "D2EV_INSTANCE_ID" "D2EV_SHUTDOWN_TIMEOUT_MS" "D2EV_LOG_LEVEL" "D2EV_ADAPTER_DIR" "D2EV_OEM_CONFIG_DIR" "D2EV_OEMS" "D2EV_EXPORT_DIR" -}}
{{- $ownedBy := dict "D2EV_OEMS" "oem.<name>.enabled" "D2EV_EXPORT_DIR" "export.dir (export.serveReports for the API)" "D2EV_ADAPTER_DIR" "adapterDir" "D2EV_OEM_CONFIG_DIR" "adapterConfigDir" -}}
{{- $envs := dict "env" .Values.env -}}
{{- range $name, $svc := .Values.services -}}
{{- $_ := set $envs (printf "services.%s.env" $name) $svc.env -}}
{{- if and $svc.http (hasKey $svc.env $svc.http.portEnvVar) -}}
{{- fail (printf "services.%s.env.%s is set by the chart from services.%s.http.port; set that instead" $name $svc.http.portEnvVar $name) -}}
{{- end -}}
{{- end -}}
{{- range $where, $env := $envs -}}
{{- range $k, $v := $env -}}
{{- if has $k $owned -}}
{{- fail (printf "%s.%s is set by the chart from its own value (%s); set that value instead (see values.yaml)" $where $k (get $ownedBy $k | default "kafka.*, logLevel, shutdownTimeoutMs or services.<name>.adminPort")) -}}
{{- end -}}
{{- if regexMatch "(?i)(SECRET|PASSWORD|TOKENS?|_KEYS?|CREDENTIALS?)(_PREVIOUS)?(_FILE)?$" $k -}}
{{- fail (printf "%s.%s looks like a secret: secrets go in `secrets`/kafka.sasl.password/oem.*.clientSecret and are mounted as files, never in env" $where $k) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /* Optional secrets: mounted only when enabled, and then from somewhere */ -}}
{{- range $id := (include "d2ev.secretIds" . | fromJsonArray) -}}
{{- $item := index $root.Values.secrets $id -}}
{{- if hasKey $item "enabled" -}}
{{- if and (not $item.enabled) (or $item.value $item.existingSecret) -}}
{{- fail (printf "secrets.%s has a value or existingSecret but enabled is false: set secrets.%s.enabled=true to mount it" $id $id) -}}
{{- end -}}
{{- if and $item.enabled (not (or $item.value $item.existingSecret $root.Values.secrets.existingSecret)) -}}
{{- fail (printf "secrets.%s.enabled is true but it has no source: set its existingSecret or value, or secrets.existingSecret" $id) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /* Services */ -}}
{{- range $name, $svc := .Values.services -}}
{{- if $svc.enabled -}}
{{- $ids := include "d2ev.secretIds" $root | fromJsonArray -}}
{{- range $svc.secrets -}}
{{- if not (has . $ids) -}}
{{- fail (printf "services.%s.secrets: unknown item %q (want one of %s)" $name . (join ", " $ids)) -}}
{{- end -}}
{{- end -}}
{{- if $svc.hpa.enabled -}}
{{- if gt (int $svc.hpa.minReplicas) (int $svc.hpa.maxReplicas) -}}
{{- fail (printf "services.%s.hpa: minReplicas %d > maxReplicas %d" $name (int $svc.hpa.minReplicas) (int $svc.hpa.maxReplicas)) -}}
{{- end -}}
{{- end -}}
{{- if $svc.partitionBound -}}
{{- $most := ternary (int $svc.hpa.maxReplicas) (int $svc.replicas) (and $svc.hpa.enabled true) -}}
{{- if gt $most (int $root.Values.topics.partitions) -}}
{{- fail (printf "services.%s: %d replicas (%s) but the vehicle-keyed topics have topics.partitions=%d; a consumer group member beyond the partition count gets no partitions, never becomes ready and blocks rollouts. Lower the replicas or raise topics.partitions (see docs/deployment.md)" $name $most (ternary "hpa.maxReplicas" "replicas" (and $svc.hpa.enabled true)) (int $root.Values.topics.partitions)) -}}
{{- end -}}
{{- end -}}
{{- $_ := include "d2ev.gracePeriod" (list $root $name $svc) -}}
{{- end -}}
{{- end -}}

{{- /* The exporter's volume */ -}}
{{- $p := .Values.export.persistence -}}
{{- $exporter := .Values.services.exporter -}}
{{- $rwx := has "ReadWriteMany" $p.accessModes -}}
{{- if $exporter.enabled -}}
{{- $most := ternary (int $exporter.hpa.maxReplicas) (int $exporter.replicas) (and $exporter.hpa.enabled true) -}}
{{- if and (gt $most 1) (not $rwx) -}}
{{- fail (printf "services.exporter: %d replicas share one export volume (their files and day-directory locks must be on the same volume), which needs export.persistence.accessModes with ReadWriteMany; or run one replica" $most) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.export.serveReports .Values.services.api.enabled -}}
{{- if not (or $exporter.enabled $p.existingClaim) -}}
{{- fail "export.serveReports mounts the exporter's volume into the API: enable services.exporter, or name the volume of an exporter running elsewhere in export.persistence.existingClaim" -}}
{{- end -}}
{{- if not $rwx -}}
{{- fail "export.serveReports mounts the export volume into the API's pods as well as the exporter's, on other nodes: it needs export.persistence.accessModes with ReadWriteMany (NFS, CephFS, EFS, Azure Files, ...)" -}}
{{- end -}}
{{- end -}}

{{- /* OEM adapter configs are mounted from a ConfigMap: no secrets in them */ -}}
{{- range $name, $oem := .Values.oem -}}
{{- range $k, $v := $oem.config -}}
{{- if regexMatch "(?i)secret|password|private_key|refresh_token|access_token" $k -}}
{{- fail (printf "oem.%s.config.%s looks like a secret; adapter configs are a ConfigMap (use oem.%s.clientSecret)" $name $k $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /* Topic overrides must name real topics */ -}}
{{- range $where := list "overrides" "exporterConfig" -}}
{{- range $t, $_ := (index $root.Values.topics.strimzi $where | default dict) -}}
{{- if not (has $t $topicNames) -}}
{{- fail (printf "topics.strimzi.%s: %q is not a d2ev topic (%s)" $where $t (join ", " $topicNames)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /*
Topic settings that erasure and the services depend on (docs/privacy.md,
docs/dispatch.md, docs/analytics.md), when the chart creates the topics.
*/ -}}
{{- if .Values.topics.strimzi.enabled -}}
{{- $day := 86400000.0 -}}
{{- $maxKeep := mulf $day 30 -}}
{{- range (include "d2ev.topicConfigs" . | fromYamlArray) -}}
{{- $c := .config -}}
{{- if .compacted -}}
{{- if .vehicleKeyed -}}
{{- $lag := index $c "max.compaction.lag.ms" | default -1 | float64 -}}
{{- if or (le $lag 0.0) (gt $lag $maxKeep) -}}
{{- fail (printf "topic %s: max.compaction.lag.ms must be set, at most 30 days (2592000000), so a deregistered vehicle's records are compacted away (docs/privacy.md); set it in topics.strimzi.compactedConfig or overrides" .name) -}}
{{- end -}}
{{- if gt (index $c "min.compaction.lag.ms" | default 0 | float64) $lag -}}
{{- fail (printf "topic %s: min.compaction.lag.ms is larger than max.compaction.lag.ms (Kafka refuses that)" .name) -}}
{{- end -}}
{{- end -}}
{{- else if or .vehicleKeyed (eq .name "d2ev.deadletter") -}}
{{- $keep := index $c "retention.ms" | default -1 | float64 -}}
{{- if or (le $keep 0.0) (gt $keep $maxKeep) -}}
{{- fail (printf "topic %s holds personal data: retention.ms must be set, at most 30 days (2592000000) (docs/privacy.md); set it in topics.strimzi.deleteConfig or overrides" .name) -}}
{{- end -}}
{{- if and (eq .name "d2ev.dispatch") (lt $keep (mulf $day 3)) -}}
{{- fail "topic d2ev.dispatch: retention.ms must be at least 3 days (259200000): d2ev-dispatch replays it at every start to know which cars it paused (docs/dispatch.md)" -}}
{{- end -}}
{{- if and $exporter.enabled (has .name (list "d2ev.telemetry" "d2ev.sessions" "d2ev.dispatch")) (lt $keep (mulf $day 2)) -}}
{{- fail (printf "topic %s: retention.ms must be at least 2 days (172800000) with the exporter, which may hold rows up to 26 hours before writing them (docs/analytics.md)" .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
