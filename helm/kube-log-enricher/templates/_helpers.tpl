{{/* Chart name, at most 63 characters (a DNS label). */}}
{{- define "kle.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, unless the release name already contains the chart name. */}}
{{- define "kle.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kle.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Standard labels (app.kubernetes.io/*) on every object. */}}
{{- define "kle.labels" -}}
helm.sh/chart: {{ include "kle.chart" . }}
{{ include "kle.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: agent
{{- end }}

{{/* Selector labels: stable across upgrades (a DaemonSet selector is immutable). */}}
{{- define "kle.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kle.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kle.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kle.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kle.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* host:port for KLE_SERVER_LISTEN; an IPv6 host gets brackets. */}}
{{- define "kle.listenAddress" -}}
{{- if contains ":" .Values.api.listenHost }}
{{- printf "[%s]:%d" .Values.api.listenHost (int .Values.api.port) }}
{{- else }}
{{- printf "%s:%d" .Values.api.listenHost (int .Values.api.port) }}
{{- end }}
{{- end }}

{{/* HTTPS when config.server.tls is set (probes, the split-mode source's service URL). */}}
{{- define "kle.apiScheme" -}}
{{- if dig "server" "tls" "" .Values.config }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{- define "kle.authSecretName" -}}
{{- default (printf "%s-auth" (include "kle.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{/* Fail early on values the schema cannot express. */}}
{{- define "kle.validate" -}}
{{- if eq .Values.mode "serve" }}
{{- if not (or .Values.service.enabled .Values.api.hostPort) }}
{{- fail "mode serve needs service.enabled or api.hostPort: the log shippers in other pods reach serve through one of them" }}
{{- end }}
{{- else }}
{{- $podsDir := dig "source" "podsDir" "/var/log/pods" .Values.config }}
{{- if not (hasPrefix (printf "%s/" (trimSuffix "/" .Values.hostPaths.logs)) (printf "%s/" $podsDir)) }}
{{- fail (printf "config.source.podsDir %q must lie under hostPaths.logs %q, the only log directory mounted in the pod" $podsDir .Values.hostPaths.logs) }}
{{- end }}
{{- end }}
{{- if and .Values.auth.enabled (not .Values.auth.existingSecret) (not .Values.auth.token) }}
{{- fail "auth.enabled needs auth.existingSecret (a Secret you created) or auth.token" }}
{{- end }}
{{- end }}

{{/* The pod's identity from the downward API: the node whose pods to watch, and this
     pod's own name and UID so the agent never tails (and re-enriches) its own log. */}}
{{- define "kle.downwardEnv" -}}
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_UID
  valueFrom:
    fieldRef:
      fieldPath: metadata.uid
{{- end }}

{{/* Log directories, read-only at the node's own paths (so event paths are node paths),
     and the checkpoint directory. */}}
{{- define "kle.logMounts" -}}
- name: logs
  mountPath: {{ .Values.hostPaths.logs | quote }}
  readOnly: true
{{- if .Values.hostPaths.dockerContainers.enabled }}
- name: docker-containers
  mountPath: {{ .Values.hostPaths.dockerContainers.path | quote }}
  readOnly: true
{{- end }}
- name: data
  mountPath: {{ .Values.dataDir.hostPath | quote }}
{{- end }}
