package resources

// Deps are the stateful services some resources' hooks need.
type Deps struct {
	// ServiceIPs allocates ClusterIPs from the service CIDR.
	ServiceIPs IPAllocator
	// NodePorts allocates node ports from 30000-32767.
	NodePorts PortAllocator
	// PriorityClasses reads the stored PriorityClasses for pod priority
	// admission (nil: the built-in classes only).
	PriorityClasses PriorityClassLister
}

// All lists every resource skiff serves, in discovery order. Adding a
// resource is a file plus one line here.
func All(d Deps) []*Resource {
	return []*Resource{
		// core/v1
		Namespaces(),
		withPodPriority(Pods(), d.PriorityClasses),
		Nodes(),
		Services(d.ServiceIPs, d.NodePorts),
		Endpoints(),
		ConfigMaps(),
		Secrets(),
		ServiceAccounts(),
		Events(),
		// apps/v1
		Deployments(),
		ReplicaSets(),
		// coordination.k8s.io/v1
		Leases(),
		// scheduling.k8s.io/v1
		PriorityClasses(d.PriorityClasses),
		// discovery.k8s.io/v1
		EndpointSlices(),
		// events.k8s.io/v1
		EventsV1(),
	}
}
