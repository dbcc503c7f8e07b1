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
{{- $owned := list "D2EV_KAFKA_BROKERS" "D2EV_KAFKA_SECURITY_PROTOCOL" "D2EV_KAFKA_SASL_MECHANISM" "D2EV_KAFKA_SASL_USERNAME" "D2EV_KAFKA_SSL_CA_LOCATION" "D2EV_KAFKA_EXTRA" "D2EV_ADMIN_PORT" "D2EV_INSTANCE_ID" "D2EV_SHUTDOWN_TIMEOUT_MS" "D2EV_LOG_LEVEL" "D2EV_ADAPTER_DIR" "D2EV_OEM_CONFIG_DIR" -}}
{{- $envs := dict "env" .Values.env -}}
{{- range $name, $svc := .Values.services -}}
{{- $_ := set $envs (printf "services.%s.env" $name) $svc.env -}}
{{- end -}}
{{- range $where, $env := $envs -}}
{{- range $k, $v := $env -}}
{{- if has $k $owned -}}
{{- fail (printf "%s.%s is set by the chart from its own value; set that value instead (see values.yaml)" $where $k) -}}
{{- end -}}
{{- if regexMatch "(?i)(SECRET|PASSWORD|TOKENS?|_KEYS?|CREDENTIALS?)(_FILE)?$" $k -}}
{{- fail (printf "%s.%s looks like a secret: secrets go in `secrets`/kafka.sasl.password/oem.*.clientSecret and are mounted as files, never in env" $where $k) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /* Services */ -}}
{{- range $name, $svc := .Values.services -}}
{{- if $svc.enabled -}}
{{- range $svc.secrets -}}
{{- if not (has . (list "credentialsKeys" "bridgeHmacSecret" "apiTokens")) -}}
{{- fail (printf "services.%s.secrets: unknown item %q (want credentialsKeys, bridgeHmacSecret or apiTokens)" $name .) -}}
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

{{- /* OEM adapter configs are mounted from a ConfigMap: no secrets in them */ -}}
{{- range $name, $oem := .Values.oem -}}
{{- range $k, $v := $oem.config -}}
{{- if regexMatch "(?i)secret|password|private_key|refresh_token|access_token" $k -}}
{{- fail (printf "oem.%s.config.%s looks like a secret; adapter configs are a ConfigMap (use oem.%s.clientSecret)" $name $k $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /* Topic overrides must name real topics */ -}}
{{- range $t, $_ := .Values.topics.strimzi.overrides -}}
{{- if not (has $t $topicNames) -}}
{{- fail (printf "topics.strimzi.overrides: %q is not a d2ev topic (%s)" $t (join ", " $topicNames)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
