package openapi

import (
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// connectOptions are the options types of the streaming subresources of
// the core group, by "<plural>/<subresource>". Their fields are the query
// parameters, and their kind is the operations' group-version-kind, as
// upstream has it: a connect PATCH (proxy) must not pose as a PATCH of the
// parent kind, or kubectl could take it for the one that lacks
// fieldValidation.
var connectOptions = map[string]reflect.Type{
	"pods/log":         reflect.TypeFor[corev1.PodLogOptions](),
	"pods/exec":        reflect.TypeFor[corev1.PodExecOptions](),
	"pods/attach":      reflect.TypeFor[corev1.PodAttachOptions](),
	"pods/portforward": reflect.TypeFor[corev1.PodPortForwardOptions](),
	"pods/proxy":       reflect.TypeFor[corev1.PodProxyOptions](),
	"nodes/proxy":      reflect.TypeFor[corev1.NodeProxyOptions](),
	"services/proxy":   reflect.TypeFor[corev1.ServiceProxyOptions](),
}

// connectMethods maps verbs of streaming subresources to HTTP methods, in
// the spelling of operation ids.
var connectMethods = map[string]string{"get": "Get", "create": "Post", "update": "Put", "patch": "Patch", "delete": "Delete"}

// isStreaming reports whether a subresource without a type streams bytes
// instead of reading and writing an object.
func isStreaming(name string) bool {
	switch name {
	case "log", "exec", "attach", "portforward", "proxy":
		return true
	}
	return false
}

// addConnect adds the operations of a streaming subresource: log is a
// plain read, the others are connect operations, one per verb.
func (p *pathBuilder) addConnect(r Resource, s Subresource, path, suffix string, params []parameter) {
	var k *gvk
	var query []parameter
	if opts, ok := connectOptions[r.Plural+"/"+s.Name]; ok && p.gv.Group == "" {
		k, query = &gvk{Version: p.gv.Version, Kind: opts.Name()}, queryParams(opts)
	}
	text := map[string]*response{"401": unauthorized, "200": {Description: "OK",
		Content: map[string]mediaType{"*/*": {Schema: &jsonSchema{Type: "string"}}}}}
	item := p.item(path, params)
	for _, verb := range s.Verbs {
		method, ok := connectMethods[verb]
		if !ok {
			continue
		}
		o := &operation{Tags: p.tags, GVK: k, Parameters: query, Responses: text, Action: "connect",
			OperationID: "connect" + p.id + method + suffix,
			Description: "pass " + strings.ToUpper(method) + " requests through to the " + s.Name + " of the named " + r.GVK.Kind}
		if s.Name == "log" {
			o.OperationID, o.Action, o.Description = "read"+p.id+suffix, "get", "read the log of the named "+r.GVK.Kind
		}
		item.set(strings.ToUpper(method), o)
	}
}
