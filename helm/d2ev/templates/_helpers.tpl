{{/* ------------------------------------------------------------ names */}}

{{- define "d2ev.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-d2ev, or just <release> when it already contains the chart name. */}}
{{- define "d2ev.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one service's resources. Args: (list $ "bridge"). */}}
{{- define "d2ev.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "d2ev.fullname" $root | trunc 50 | trimSuffix "-") (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "d2ev.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "d2ev.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "d2ev.managedSecretName" -}}
{{- printf "%s-secrets" (include "d2ev.fullname" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{/* ----------------------------------------------------------- labels */}}

{{- define "d2ev.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "d2ev.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: d2ev
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Labels of one service's resources. Args: (list $ "bridge"). */}}
{{- define "d2ev.componentLabels" -}}
{{ include "d2ev.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* Selector of one service's pods (immutable: never add to it). Args: (list $ "bridge"). */}}
{{- define "d2ev.selectorLabels" -}}
app.kubernetes.io/name: {{ include "d2ev.name" (index . 0) }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "d2ev.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* ---------------------------------------------------------- secrets */}}

{{/* The items of `secrets`, in order; the optional ones have `enabled`. */}}
{{- define "d2ev.secretIds" -}}
{{- list "credentialsKeys" "bridgeHmacSecret" "bridgeHmacSecretPrevious" "vehicleIdKey" "apiTokens" | toJson -}}
{{- end -}}

{{/*
Every secret item the chart knows, as a YAML list of
  {id, envVar, file, optional, ref: {name, key} | {}, managedValue}
`file` is the file name under /var/run/secrets/d2ev and the key in the
chart-managed Secret; `ref` is where the pod reads it from (see values.yaml for
the order: item.existingSecret, item.value, secrets.existingSecret). An optional
item (one with `enabled`) has no ref unless enabled.
*/}}
{{- define "d2ev.secretItems" -}}
{{- $root := . -}}
{{- $items := list -}}
{{- range $id := (include "d2ev.secretIds" . | fromJsonArray) -}}
{{- $item := index $root.Values.secrets $id -}}
{{- $items = append $items (dict "id" $id "envVar" $item.envVar "file" (kebabcase $id) "item" $item "optional" (hasKey $item "enabled")) -}}
{{- end -}}
{{- if hasPrefix "sasl_" .Values.kafka.securityProtocol -}}
{{- $items = append $items (dict "id" "kafkaSaslPassword" "envVar" "D2EV_KAFKA_SASL_PASSWORD" "file" "kafka-sasl-password" "item" .Values.kafka.sasl.password "optional" false) -}}
{{- end -}}
{{- range $name, $oem := .Values.oem -}}
{{- if $oem.enabled -}}
{{- $envVar := default (printf "D2EV_OEM_%s_CLIENT_SECRET" ($name | upper)) $oem.clientSecret.envVar -}}
{{- $items = append $items (dict "id" (printf "oem:%s" $name) "envVar" $envVar "file" (printf "oem-%s-client-secret" $name) "item" $oem.clientSecret "optional" false) -}}
{{- end -}}
{{- end -}}
{{- range $items }}
- id: {{ .id | quote }}
  envVar: {{ .envVar | quote }}
  file: {{ .file | quote }}
  optional: {{ .optional }}
  {{- if and .optional (not .item.enabled) }}
  ref: {}
  {{- else if .item.existingSecret }}
  ref: {name: {{ .item.existingSecret | quote }}, key: {{ .item.key | quote }}}
  {{- else if .item.value }}
  ref: {name: {{ include "d2ev.managedSecretName" $root | quote }}, key: {{ .file | quote }}}
  managedValue: {{ .item.value | quote }}
  {{- else if $root.Values.secrets.existingSecret }}
  ref: {name: {{ $root.Values.secrets.existingSecret | quote }}, key: {{ .item.key | quote }}}
  {{- else }}
  ref: {}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
The secret items one service mounts: its `secrets` list, the Kafka SASL
password, and with oem: true every enabled OEM's client secret.
Args: (list $ $svc). Returns a YAML list (see d2ev.secretItems).
*/}}
{{- define "d2ev.serviceSecretItems" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- $out := list -}}
{{- range (include "d2ev.secretItems" $root | fromYamlArray) -}}
{{- if or (has .id $svc.secrets) (eq .id "kafkaSaslPassword") (and $svc.oem (hasPrefix "oem:" .id)) -}}
{{- $out = append $out . -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The enabled OEMs, sorted and comma-separated: D2EV_OEMS. */}}
{{- define "d2ev.enabledOems" -}}
{{- $names := list -}}
{{- range $name, $oem := .Values.oem -}}
{{- if $oem.enabled -}}
{{- $names = append $names $name -}}
{{- end -}}
{{- end -}}
{{- $names | sortAlpha | join "," -}}
{{- end -}}

{{/* The export volume's claim: an existing one or <release>-export. */}}
{{- define "d2ev.exportClaimName" -}}
{{- default (printf "%s-export" (include "d2ev.fullname" . | trunc 56 | trimSuffix "-")) .Values.export.persistence.existingClaim -}}
{{- end -}}

{{/*
Whether a service mounts the export volume: "rw" (d2ev-exporter), "ro"
(d2ev-api with export.serveReports) or "". Args: (list $ $svc).
*/}}
{{- define "d2ev.exportMount" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- if eq $svc.binary "d2ev-exporter" -}}rw
{{- else if and (eq $svc.binary "d2ev-api") $root.Values.export.serveReports -}}ro
{{- end -}}
{{- end -}}

{{/* ------------------------------------------------------- shutdown */}}

{{/*
terminationGracePeriodSeconds of a service: the preStop sleep, plus the
shutdown deadline rounded up, plus 5 s for librdkafka to leave the group and
the process to exit. An explicit value below that fails the render.
Args: (list $ $name $svc).
*/}}
{{- define "d2ev.gracePeriod" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $svc := index . 2 -}}
{{- $timeoutMs := int (default $root.Values.shutdownTimeoutMs $svc.shutdownTimeoutMs) -}}
{{- $min := add (int $svc.preStopSleepSeconds) (div (add $timeoutMs 999) 1000) 5 -}}
{{- if kindIs "invalid" $svc.terminationGracePeriodSeconds -}}
{{- $min -}}
{{- else if lt (int $svc.terminationGracePeriodSeconds) (int $min) -}}
{{- fail (printf "services.%s.terminationGracePeriodSeconds=%v is shorter than the graceful shutdown needs (%d s: preStop %d s + shutdown deadline %d ms + 5 s)" $name $svc.terminationGracePeriodSeconds $min (int $svc.preStopSleepSeconds) $timeoutMs) -}}
{{- else -}}
{{- int $svc.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{/*
A scalar for YAML: whole numbers as integers (values arrive as float64, which
would print 2592000000 as 2.592e+09), strings quoted, booleans as is.
*/}}
{{- define "d2ev.scalar" -}}
{{- if kindIs "float64" . -}}
{{- if eq . (floor .) -}}{{- int64 . -}}{{- else -}}{{- . -}}{{- end -}}
{{- else if kindIs "string" . -}}
{{- . | quote -}}
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{/* An environment variable's value as a string (whole numbers without exponent). */}}
{{- define "d2ev.envString" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) -}}
{{- int64 . -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}
