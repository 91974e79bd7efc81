package openapi

import (
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	allVerbs    = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	statusVerbs = []string{"get", "patch", "update"}
)

// resource describes a resource the way the API server would.
func resource[T, L any](group, version, kind, plural string, namespaced bool, subs ...Subresource) Resource {
	return Resource{
		GVK:          schema.GroupVersionKind{Group: group, Version: version, Kind: kind},
		Plural:       plural,
		Namespaced:   namespaced,
		Type:         reflect.TypeFor[T](),
		ListType:     reflect.TypeFor[L](),
		Subresources: subs,
		Verbs:        allVerbs,
	}
}

var (
	status = Subresource{Name: "status", Verbs: statusVerbs}
	scale  = Subresource{Name: "scale", GVK: autoscalingv1.SchemeGroupVersion.WithKind("Scale"),
		Type: reflect.TypeFor[autoscalingv1.Scale](), Verbs: statusVerbs}
)

// testResources is the set of the task: pods, namespaces, deployments with
// scale and status, services, configmaps and events.k8s.io events.
func testResources() []Resource {
	return []Resource{
		resource[corev1.Pod, corev1.PodList]("", "v1", "Pod", "pods", true, podSubresources()...),
		resource[corev1.Namespace, corev1.NamespaceList]("", "v1", "Namespace", "namespaces", false, status,
			Subresource{Name: "finalize", Verbs: []string{"update"}}),
		resource[appsv1.Deployment, appsv1.DeploymentList]("apps", "v1", "Deployment", "deployments", true, scale, status),
		resource[corev1.Service, corev1.ServiceList]("", "v1", "Service", "services", true, status,
			Subresource{Name: "proxy", Verbs: []string{"create", "delete", "get", "patch", "update"}}),
		resource[corev1.ConfigMap, corev1.ConfigMapList]("", "v1", "ConfigMap", "configmaps", true),
		resource[eventsv1.Event, eventsv1.EventList]("events.k8s.io", "v1", "Event", "events", true),
	}
}

func podSubresources() []Subresource {
	return []Subresource{status,
		{Name: "binding", GVK: corev1.SchemeGroupVersion.WithKind("Binding"), Type: reflect.TypeFor[corev1.Binding](), Verbs: []string{"create"}},
		{Name: "eviction", GVK: policyv1.SchemeGroupVersion.WithKind("Eviction"), Type: reflect.TypeFor[policyv1.Eviction](), Verbs: []string{"create"}},
		{Name: "ephemeralcontainers", Verbs: statusVerbs},
		{Name: "log", GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Verbs: []string{"get"}},
		{Name: "exec", GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Verbs: []string{"create", "get"}},
		{Name: "attach", GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Verbs: []string{"create", "get"}},
		{Name: "portforward", GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Verbs: []string{"create", "get"}},
	}
}

// fullResources is every resource of core/v1, apps/v1, coordination/v1,
// discovery/v1 and events/v1 that skiff serves or may serve.
func fullResources() []Resource {
	rs := testResources()
	rs = append(rs[:1:1], rs[1:]...) // keep the test set first
	return append(rs,
		resource[corev1.Node, corev1.NodeList]("", "v1", "Node", "nodes", false, status,
			Subresource{Name: "proxy", Verbs: []string{"create", "delete", "get", "patch", "update"}}),
		resource[corev1.Endpoints, corev1.EndpointsList]("", "v1", "Endpoints", "endpoints", true),
		resource[corev1.Secret, corev1.SecretList]("", "v1", "Secret", "secrets", true),
		resource[corev1.ServiceAccount, corev1.ServiceAccountList]("", "v1", "ServiceAccount", "serviceaccounts", true),
		resource[corev1.Event, corev1.EventList]("", "v1", "Event", "events", true),
		resource[corev1.PersistentVolume, corev1.PersistentVolumeList]("", "v1", "PersistentVolume", "persistentvolumes", false, status),
		resource[corev1.PersistentVolumeClaim, corev1.PersistentVolumeClaimList]("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, status),
		resource[corev1.ReplicationController, corev1.ReplicationControllerList]("", "v1", "ReplicationController", "replicationcontrollers", true, scale, status),
		resource[corev1.ResourceQuota, corev1.ResourceQuotaList]("", "v1", "ResourceQuota", "resourcequotas", true, status),
		resource[corev1.LimitRange, corev1.LimitRangeList]("", "v1", "LimitRange", "limitranges", true),
		resource[corev1.PodTemplate, corev1.PodTemplateList]("", "v1", "PodTemplate", "podtemplates", true),
		resource[appsv1.ReplicaSet, appsv1.ReplicaSetList]("apps", "v1", "ReplicaSet", "replicasets", true, scale, status),
		resource[appsv1.StatefulSet, appsv1.StatefulSetList]("apps", "v1", "StatefulSet", "statefulsets", true, scale, status),
		resource[appsv1.DaemonSet, appsv1.DaemonSetList]("apps", "v1", "DaemonSet", "daemonsets", true, status),
		resource[appsv1.ControllerRevision, appsv1.ControllerRevisionList]("apps", "v1", "ControllerRevision", "controllerrevisions", true),
		resource[coordinationv1.Lease, coordinationv1.LeaseList]("coordination.k8s.io", "v1", "Lease", "leases", true),
		resource[discoveryv1.EndpointSlice, discoveryv1.EndpointSliceList]("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true),
	)
}
