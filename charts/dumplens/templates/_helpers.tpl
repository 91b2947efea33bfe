{{- define "dumplens.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dumplens.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "dumplens.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "dumplens.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The Secret and key holding the sandbox server's admin URL, whatever the mode. */}}
{{- define "dumplens.adminUrlSecret" -}}
{{- if eq .Values.postgres.mode "existing" -}}
{{ required "postgres.existing.adminUrlSecret is required with postgres.mode=existing" .Values.postgres.existing.adminUrlSecret }}
{{- else if eq .Values.postgres.mode "cnpg" -}}
{{ include "dumplens.fullname" . }}-sandbox-superuser
{{- else -}}
{{ include "dumplens.fullname" . }}-sandbox-admin
{{- end -}}
{{- end -}}

{{- define "dumplens.sandboxHost" -}}
{{- if eq .Values.postgres.mode "cnpg" -}}
{{ include "dumplens.fullname" . }}-sandbox-rw
{{- else -}}
{{ include "dumplens.fullname" . }}-sandbox
{{- end -}}
{{- end -}}

{{- define "dumplens.adminUrlKey" -}}
{{- if eq .Values.postgres.mode "cnpg" -}}uri{{- else -}}url{{- end -}}
{{- end -}}

{{/* The Secret of API tokens: the one named in values, else one the chart generates (unless
only a trusted proxy header authenticates). Empty when there is none. */}}
{{- define "dumplens.tokensSecret" -}}
{{- if .Values.api.auth.tokensSecret -}}
{{ .Values.api.auth.tokensSecret }}
{{- else if not .Values.api.auth.trustedProxyHeader -}}
{{ include "dumplens.fullname" . }}-api-tokens
{{- end -}}
{{- end -}}
