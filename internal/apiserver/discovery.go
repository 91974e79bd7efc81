package apiserver

import (
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/apiserver/resources"
)

const aggregatedDiscoveryType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

var mainVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// discoveryDocs are built once: the server's resources never change.
type discoveryDocs struct {
	resourceLists  map[string][]byte // "v1", "apps/v1" -> APIResourceList
	groupList      []byte            // /apis (legacy)
	groups         map[string][]byte // /apis/<group>
	aggregatedAPI  []byte            // /api (aggregated)
	aggregatedAPIs []byte            // /apis (aggregated)
}

func (s *Server) buildDiscovery() *discoveryDocs {
	d := &discoveryDocs{resourceLists: map[string][]byte{}, groups: map[string][]byte{}}
	groupList := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{}}
	coreAgg := &apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	groupsAgg := &apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	for _, gv := range s.gvOrder {
		eps := s.byGV[gv]
		list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
		aggVersion := apidiscoveryv2.APIVersionDiscovery{Version: gv.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
		for _, ep := range eps {
			list.APIResources = append(list.APIResources, apiResources(ep.res)...)
			aggVersion.Resources = append(aggVersion.Resources, aggregatedResource(ep.res))
		}
		d.resourceLists[gv.String()] = mustJSON(list)
		agg := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: gv.Group}, Versions: []apidiscoveryv2.APIVersionDiscovery{aggVersion}}
		if gv.Group == "" {
			coreAgg.Items = append(coreAgg.Items, agg)
			continue
		}
		groupsAgg.Items = append(groupsAgg.Items, agg)
		gvd := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
		group := metav1.APIGroup{Name: gv.Group, Versions: []metav1.GroupVersionForDiscovery{gvd}, PreferredVersion: gvd}
		groupList.Groups = append(groupList.Groups, group)
		group.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
		d.groups[gv.Group] = mustJSON(group)
	}
	d.groupList = mustJSON(groupList)
	d.aggregatedAPI = mustJSON(coreAgg)
	d.aggregatedAPIs = mustJSON(groupsAgg)
	return d
}

// apiResources lists a resource and its subresources as legacy discovery
// entries.
func apiResources(res *resources.Resource) []metav1.APIResource {
	out := []metav1.APIResource{{
		Name: res.Resource, SingularName: res.Singular, Namespaced: res.Namespaced, Kind: res.Kind,
		Verbs: mainVerbs, ShortNames: res.ShortNames, Categories: res.Categories,
	}}
	for _, sr := range subresources(res) {
		e := metav1.APIResource{Name: res.Resource + "/" + sr.Name, Namespaced: res.Namespaced, Kind: sr.Kind.Kind, Verbs: sr.Verbs}
		if sr.Kind.GroupVersion() != res.GroupVersion {
			e.Group, e.Version = sr.Kind.Group, sr.Kind.Version
		}
		out = append(out, e)
	}
	return out
}

func aggregatedResource(res *resources.Resource) apidiscoveryv2.APIResourceDiscovery {
	scope := apidiscoveryv2.ScopeCluster
	if res.Namespaced {
		scope = apidiscoveryv2.ScopeNamespace
	}
	gvk := res.GVK()
	out := apidiscoveryv2.APIResourceDiscovery{
		Resource: res.Resource, SingularResource: res.Singular, Scope: scope, Verbs: mainVerbs,
		ResponseKind: &metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
		ShortNames:   res.ShortNames, Categories: res.Categories,
	}
	for _, sr := range subresources(res) {
		out.Subresources = append(out.Subresources, apidiscoveryv2.APISubresourceDiscovery{
			Subresource:  sr.Name,
			ResponseKind: &metav1.GroupVersionKind{Group: sr.Kind.Group, Version: sr.Kind.Version, Kind: sr.Kind.Kind},
			Verbs:        sr.Verbs,
		})
	}
	return out
}

// subresources gives every subresource with a fully qualified kind.
func subresources(res *resources.Resource) []resources.Subresource {
	var out []resources.Subresource
	if res.HasStatus {
		out = append(out, resources.Subresource{Name: "status", Kind: res.GVK(), Verbs: []string{"get", "patch", "update"}})
	}
	if res.Scale != nil {
		out = append(out, resources.Subresource{Name: "scale", Kind: scaleGVK, Verbs: []string{"get", "patch", "update"}})
	}
	for _, sr := range res.Subresources {
		if sr.Kind.Version == "" {
			sr.Kind = schema.GroupVersionKind{Group: res.GroupVersion.Group, Version: res.GroupVersion.Version, Kind: sr.Kind.Kind}
		}
		if sr.Kind.Kind == "" {
			sr.Kind.Kind = res.Kind
		}
		out = append(out, sr)
	}
	return out
}

// wantsAggregated reports whether the client asks for aggregated discovery
// in JSON (the only encoding skiff serves it in).
func wantsAggregated(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if mt == mediaJSON && params["as"] == "APIGroupDiscoveryList" && params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2" {
			return true
		}
		if (mt == mediaJSON || mt == "*/*" || mt == "application/*") && params["as"] == "" {
			return false
		}
	}
	return false
}

func writeJSONBytes(w http.ResponseWriter, contentType string, data []byte) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		writeJSONBytes(w, aggregatedDiscoveryType, s.discovery.aggregatedAPI)
		return
	}
	host := r.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "443")
	}
	v := &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: host}}}
	data, _ := json.Marshal(v)
	writeJSONBytes(w, mediaJSON, data)
}

func (s *Server) serveAPIs(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		writeJSONBytes(w, aggregatedDiscoveryType, s.discovery.aggregatedAPIs)
		return
	}
	writeJSONBytes(w, mediaJSON, s.discovery.groupList)
}
