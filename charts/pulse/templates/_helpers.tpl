{{/*
Names, labels and image references shared by every template.
*/}}

{{/* The chart's name, or nameOverride. */}}
{{- define "pulse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every object's name: fullnameOverride, else the release name when it
already contains the chart's name, else "<release>-<chart>". 54 characters at most,
so that "-operator" still fits in a 63-character name.
*/}}
{{- define "pulse.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 54 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 54 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 54 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The operator's objects: Deployment, ServiceAccount, RBAC, Service. */}}
{{- define "pulse.operatorName" -}}
{{- printf "%s-operator" (include "pulse.fullname" .) -}}
{{- end -}}

{{- define "pulse.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* What the Deployment selects on: never changes between upgrades. */}}
{{- define "pulse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pulse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* The standard labels, on every object the chart creates. */}}
{{- define "pulse.labels" -}}
helm.sh/chart: {{ include "pulse.chart" . }}
{{ include "pulse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pulse
{{- end -}}

{{- define "pulse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pulse.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository[:tag][@digest]; the tag defaults to the chart's appVersion. */}}
{{- define "pulse.imageRef" -}}
{{- $image := .image -}}
{{- $ref := printf "%s:%s" $image.repository (default .appVersion $image.tag) -}}
{{- if $image.digest -}}
{{- $ref = printf "%s@%s" $ref $image.digest -}}
{{- end -}}
{{- $ref -}}
{{- end -}}

{{- define "pulse.operatorImage" -}}
{{- include "pulse.imageRef" (dict "image" .Values.image "appVersion" .Chart.AppVersion) -}}
{{- end -}}

{{- define "pulse.sidecarImage" -}}
{{- include "pulse.imageRef" (dict "image" .Values.sidecar.image "appVersion" .Chart.AppVersion) -}}
{{- end -}}

{{- define "pulse.peeringName" -}}
{{- default (include "pulse.fullname" .) .Values.peering.name -}}
{{- end -}}

{{/*
The permissions the operator needs in every namespace it watches; each one is proven
necessary by tests/integration/test_install_rbac.py. Rendered into one ClusterRole, or
into one Role per watched namespace.
*/}}
{{- define "pulse.namespacedRules" -}}
# MetricsCollectors and SLOs: watch them (list, watch), read each afresh before acting on
# it (get), record kopf's progress in their annotations (patch).
- apiGroups: ["pulse.dev"]
  resources: ["metricscollectors", "slos"]
  verbs: ["get", "list", "watch", "patch"]
# Their status, written by server-side apply.
- apiGroups: ["pulse.dev"]
  resources: ["metricscollectors/status", "slos/status"]
  verbs: ["patch"]
# Children, written by server-side apply: a PATCH (patch) that creates the object when it
# is missing (create); watched to undo drift (list, watch).
- apiGroups: [""]
  resources: ["configmaps", "services"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Deployments are also read back for their rollout status (get).
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Prometheus Operator children, the same way; deleted when a spec change makes one
# unwanted (delete), found for that by label (list).
- apiGroups: ["monitoring.coreos.com"]
  resources: ["servicemonitors", "podmonitors", "prometheusrules"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# The collectors' pods: listed by the Deployment's selector only while some are not Ready,
# so the status can say which pod and container fail and why; never written.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
# Secrets: only read by name, as metadata, to check that referenced Secrets exist;
# never listed or watched, so the operator cannot enumerate or bulk-read them.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
# Events about MetricsCollectors and SLOs.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}

{{/* Cluster-wide only: what the Selected condition reads. */}}
{{- define "pulse.selectionRules" -}}
# Prometheus and ThanosRuler objects, never written: their selectors say whether they load
# Pulse's rules and monitors (the Selected condition). Listed cluster-wide (list) and
# watched so a changed selector is judged again at once (watch).
- apiGroups: ["monitoring.coreos.com"]
  resources: ["prometheuses", "thanosrulers"]
  verbs: ["list", "watch"]
# Namespaces, read one by name, for the labels a namespace selector matches against.
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get"]
{{- end -}}

{{/* kopf's peering: list and watch the peering objects, patch its own keep-alive. */}}
{{- define "pulse.peeringRules" -}}
# kopf's peering: see the other replicas (list, watch), record this one's keep-alive (patch).
- apiGroups: ["kopf.dev"]
  resources: [{{ .resource | quote }}]
  verbs: ["list", "watch"]
- apiGroups: ["kopf.dev"]
  resources: [{{ .resource | quote }}]
  resourceNames: [{{ .name | quote }}]
  verbs: ["patch"]
{{- end -}}

{{/* selectorLabels as PULSE_SELECTOR_LABELS: key=value pairs, comma-separated, sorted. */}}
{{- define "pulse.selectorLabelsEnv" -}}
{{- $pairs := list -}}
{{- range $key, $value := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $key $value) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}
