package garbagecollector

import (
	"fmt"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// errUnknownKind says discovery does not know an ownerReference's
// apiVersion/kind; such an owner cannot be verified and is kept.
var errUnknownKind = fmt.Errorf("unknown owner kind")

// resourceInfo is what the collector needs to GET an owner.
type resourceInfo struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

// kindResolver maps apiVersion/kind to a resource through discovery, one
// group version at a time, caching what it learned. Safe for concurrent use.
type kindResolver struct {
	disc discovery.DiscoveryInterface
	mu   sync.Mutex
	gvs  map[string]map[string]resourceInfo // apiVersion → kind → resource
}

func newKindResolver(d discovery.DiscoveryInterface) *kindResolver {
	return &kindResolver{disc: d, gvs: map[string]map[string]resourceInfo{}}
}

// resolve returns the resource of kind in apiVersion, errUnknownKind (wrapped)
// when the server serves no such thing, or a discovery error to retry.
func (k *kindResolver) resolve(apiVersion, kind string) (resourceInfo, error) {
	k.mu.Lock()
	kinds, ok := k.gvs[apiVersion]
	k.mu.Unlock()
	if !ok {
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil {
			return resourceInfo{}, fmt.Errorf("%w: %v", errUnknownKind, err)
		}
		list, err := k.disc.ServerResourcesForGroupVersion(apiVersion)
		if apierrors.IsNotFound(err) {
			list, err = nil, nil
		}
		if err != nil {
			return resourceInfo{}, fmt.Errorf("discover %s: %w", apiVersion, err)
		}
		kinds = map[string]resourceInfo{}
		if list != nil {
			for _, r := range list.APIResources {
				if strings.Contains(r.Name, "/") {
					continue // subresource
				}
				kinds[r.Kind] = resourceInfo{gvr: gv.WithResource(r.Name), namespaced: r.Namespaced}
			}
		}
		// An unknown group version is cached too: it may appear later (a
		// CRD), but then the collector does not watch it anyway.
		k.mu.Lock()
		k.gvs[apiVersion] = kinds
		k.mu.Unlock()
	}
	info, ok := kinds[kind]
	if !ok {
		return resourceInfo{}, fmt.Errorf("%w: %s %s", errUnknownKind, apiVersion, kind)
	}
	return info, nil
}
