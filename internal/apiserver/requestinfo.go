package apiserver

import (
	"net/http"
	"strings"
)

// requestInfo is what a request's path and method say it is.
type requestInfo struct {
	// ResourceRequest is false for /healthz, /version, discovery and the like.
	ResourceRequest bool
	Path            string
	// Verb is the Kubernetes verb: get list watch create update patch
	// delete deletecollection (or the lowercase HTTP method for
	// non-resource requests).
	Verb        string
	APIPrefix   string // "api" or "apis"
	APIGroup    string
	APIVersion  string
	Namespace   string
	Resource    string
	Subresource string
	Name        string
	// Parts are the path segments after the group version.
	Parts []string
}

// parseRequestInfo interprets /api/v1/... and /apis/group/version/...
// paths the way Kubernetes routes them:
//
//	/api/v1/namespaces                       (list/create namespaces)
//	/api/v1/namespaces/ns                    (the namespace ns)
//	/api/v1/namespaces/ns/status             (its subresource)
//	/api/v1/namespaces/ns/pods[/name[/sub]]  (namespaced resources)
//	/api/v1/pods                             (all namespaces)
//	/api/v1/watch/namespaces/ns/pods         (legacy watch paths)
func parseRequestInfo(r *http.Request) requestInfo {
	ri := requestInfo{Path: r.URL.Path, Verb: strings.ToLower(r.Method)}
	parts := splitPath(r.URL.Path)
	if len(parts) < 2 {
		return ri
	}
	switch parts[0] {
	case "api":
		ri.APIPrefix, ri.APIVersion = "api", parts[1]
		parts = parts[2:]
	case "apis":
		if len(parts) < 3 {
			return ri
		}
		ri.APIPrefix, ri.APIGroup, ri.APIVersion = "apis", parts[1], parts[2]
		parts = parts[3:]
	default:
		return ri
	}
	if len(parts) == 0 {
		return ri // group-version discovery
	}
	ri.ResourceRequest = true
	legacyWatch := false
	if parts[0] == "watch" {
		legacyWatch = true
		parts = parts[1:]
		if len(parts) == 0 {
			ri.ResourceRequest = false
			return ri
		}
	}
	if parts[0] == "namespaces" && len(parts) > 1 {
		ri.Namespace = parts[1]
		// /namespaces/ns/pods...: a namespaced resource. /namespaces/ns,
		// /namespaces/ns/status and /namespaces/ns/finalize: the namespace.
		if len(parts) > 2 && parts[2] != "status" && parts[2] != "finalize" {
			parts = parts[2:]
		}
	}
	ri.Parts = parts
	ri.Resource = parts[0]
	if len(parts) > 1 {
		ri.Name = parts[1]
	}
	if len(parts) > 2 {
		ri.Subresource = parts[2]
	}

	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case legacyWatch || (ri.Name == "" && isWatch(r)):
			ri.Verb = "watch"
		case ri.Name == "":
			ri.Verb = "list"
		case isWatch(r) && ri.Subresource == "":
			ri.Verb = "watch"
		default:
			ri.Verb = "get"
		}
	case http.MethodPost:
		ri.Verb = "create"
	case http.MethodPut:
		ri.Verb = "update"
	case http.MethodPatch:
		ri.Verb = "patch"
	case http.MethodDelete:
		if ri.Name == "" {
			ri.Verb = "deletecollection"
		} else {
			ri.Verb = "delete"
		}
	}
	return ri
}

func isWatch(r *http.Request) bool {
	w := r.URL.Query().Get("watch")
	return w == "true" || w == "1"
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
