package openapi

// Facts the Go types do not carry at run time. Each table is short and
// written in skiff's own words; everything else is derived by reflection.

// builtinDescriptions describes the apimachinery types that have no
// SwaggerDoc method, so that kubectl explain has something to print for
// them.
var builtinDescriptions = map[string]string{
	"io.k8s.apimachinery.pkg.api.resource.Quantity": "A fixed-point decimal amount, written as a " +
		"string such as \"100m\", \"1.5\", \"2Gi\" or \"1e3\": a number followed by an optional binary " +
		"(Ki, Mi, Gi, Ti, Pi, Ei), decimal (m, k, M, G, T, P, E) or exponent suffix.",
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString": "A value that is either a 32-bit integer or a " +
		"string, such as a port number or a port name, or a count or a percentage.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Time": "A timestamp in RFC 3339 form with second " +
		"precision, for example \"2006-01-02T15:04:05Z\".",
	"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "A timestamp in RFC 3339 form with " +
		"microsecond precision, for example \"2006-01-02T15:04:05.000000Z\".",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Duration": "A length of time written as a Go duration " +
		"string, for example \"1h30m\" or \"10s\".",
	"io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": "The set of fields a manager owns, encoded as a " +
		"JSON tree of field, value, key and index entries.",
	"io.k8s.apimachinery.pkg.runtime.RawExtension": "An embedded object of any kind, kept as raw " +
		"JSON; it normally carries its own apiVersion and kind.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent": "One event of a watch stream: its type " +
		"(ADDED, MODIFIED, DELETED, BOOKMARK or ERROR) and the object it is about.",
}

// listType is an x-kubernetes-list-type with its map keys.
type listType struct {
	listType string
	keys     []string
}

// listTypes corrects the list type inferred from patchMergeKey (a map
// keyed by that one field) where the API declares something else: a
// compound key, because the merge key alone is not unique (one port number
// may be used for TCP and UDP), or atomic. Keys are
// "<model name of the declaring struct>.<json field name>".
var listTypes = map[string]listType{
	"io.k8s.api.core.v1.Container.ports":                     {"map", []string{"containerPort", "protocol"}},
	"io.k8s.api.core.v1.EphemeralContainerCommon.ports":      {"map", []string{"containerPort", "protocol"}},
	"io.k8s.api.core.v1.ServiceSpec.ports":                   {"map", []string{"port", "protocol"}},
	"io.k8s.api.core.v1.PodSpec.topologySpreadConstraints":   {"map", []string{"topologyKey", "whenUnsatisfiable"}},
	"io.k8s.api.core.v1.VolumeHealthStatus.healthConditions": {"map", []string{"status", "reason"}},
	"io.k8s.api.core.v1.PodVolumeHealth.healthConditions":    {"map", []string{"status", "reason"}},
	"io.k8s.api.core.v1.PodStatus.hostIPs":                   {"atomic", nil},
	"io.k8s.api.batch.v1.JobStatus.conditions":               {"atomic", nil},
}

// keyDefaults are the defaults of list-map key fields that may be left out.
// Server-side apply needs them to match an entry that omits the key with
// the stored, defaulted entry: port 80 is port 80/TCP.
var keyDefaults = map[string]any{
	"io.k8s.api.core.v1.ContainerPort.protocol": "TCP",
	"io.k8s.api.core.v1.ServicePort.protocol":   "TCP",
}
