{{- define "cluster-issuers.labels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The service account a Vault issuer logs in with. */}}
{{- define "cluster-issuers.vaultServiceAccount" -}}
{{ printf "%s-vault-issuer" . | trunc 63 | trimSuffix "-" }}
{{- end }}
