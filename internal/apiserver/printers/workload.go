package printers

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Wide columns every pod-template workload shares.
var (
	containersColumn = wide(column("Containers", "string", "Names of each container in the template."))
	imagesColumn     = wide(column("Images", "string", "Images referenced by each container in the template."))
)

// DeploymentColumns are `kubectl get deployments` columns.
var DeploymentColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("Ready", "string", "Ready pods out of desired pods."),
	column("Up-to-date", "integer", appsv1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]),
	column("Available", "integer", appsv1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]),
	ageColumn(),
	containersColumn,
	imagesColumn,
	wide(column("Selector", "string", appsv1.DeploymentSpec{}.SwaggerDoc()["selector"])),
}

// DeploymentRow gives the DeploymentColumns cells of an *appsv1.Deployment.
func DeploymentRow(obj runtime.Object, now time.Time) []interface{} {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return mismatchRow(obj, DeploymentColumns)
	}
	names, images := containerCells(d.Spec.Template.Spec.Containers)
	return []interface{}{
		d.Name,
		fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicas(d.Spec.Replicas)),
		int64(d.Status.UpdatedReplicas),
		int64(d.Status.AvailableReplicas),
		age(d.CreationTimestamp, now),
		names,
		images,
		deploymentSelector(d.Spec.Selector),
	}
}

// deploymentSelector prints a deployment's selector as upstream does: the
// selector string ("" when unset), "<invalid>" when it does not parse.
func deploymentSelector(ls *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return "<invalid>"
	}
	return sel.String()
}

// ReplicaSetColumns are `kubectl get replicasets` columns.
var ReplicaSetColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("Desired", "integer", appsv1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]),
	column("Current", "integer", appsv1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]),
	column("Ready", "integer", appsv1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]),
	ageColumn(),
	containersColumn,
	imagesColumn,
	wide(column("Selector", "string", appsv1.ReplicaSetSpec{}.SwaggerDoc()["selector"])),
}

// ReplicaSetRow gives the ReplicaSetColumns cells of an *appsv1.ReplicaSet.
func ReplicaSetRow(obj runtime.Object, now time.Time) []interface{} {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return mismatchRow(obj, ReplicaSetColumns)
	}
	names, images := containerCells(rs.Spec.Template.Spec.Containers)
	return []interface{}{
		rs.Name,
		int64(replicas(rs.Spec.Replicas)),
		int64(rs.Status.Replicas),
		int64(rs.Status.ReadyReplicas),
		age(rs.CreationTimestamp, now),
		names,
		images,
		metav1.FormatLabelSelector(rs.Spec.Selector),
	}
}

// replicas reads spec.replicas. Stored objects are defaulted, so nil only
// reaches here from an undefaulted object; it prints as 0, as upstream's
// conversion of a nil pointer would.
func replicas(r *int32) int32 {
	if r == nil {
		return 0
	}
	return *r
}

// containerCells lists a template's container names and images, each
// joined by commas.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i, c := range containers {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}
