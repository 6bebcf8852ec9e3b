{{/*
The controller's rules: exactly the verbs src/controller/ uses, one rule per use, each
explained in the chart's README ("Why each rule"). tests/rbac.rs runs the controller end to
end under the chart's ServiceAccount with these rules (any 403 fails), and its ignored test
`every_rule_is_needed` removes each rule in turn and shows a test that then fails.
*/}}
{{- define "hostplane.rules" -}}
- apiGroups: [hostplane.dev]
  resources: [processingmodules, tariffs, clients, hostingservices, licensepools, serverpools]
  verbs: [list, watch]
- apiGroups: [hostplane.dev]
  resources: [hostingservices]
  verbs: [patch]
- apiGroups: [hostplane.dev]
  resources: [licensepools]
  verbs: [get, patch]
- apiGroups: [hostplane.dev]
  resources:
  - processingmodules/status
  - tariffs/status
  - clients/status
  - hostingservices/status
  - licensepools/status
  - serverpools/status
  verbs: [patch]
- apiGroups: [hostplane.dev]
  resources: [hostingservices/status]
  verbs: [get]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}
