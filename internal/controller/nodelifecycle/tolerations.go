package nodelifecycle

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// evictionTime decides when a pod with tolerations must leave a node with
// the given NoExecute taints, each in place since since(taint).
//
//   - evict false: never (no taints, or each is tolerated without
//     tolerationSeconds);
//   - evict true with at zero: at once (some taint is not tolerated);
//   - evict true otherwise: at the earliest since(taint) +
//     tolerationSeconds over the taints.
//
// As upstream, a taint is judged by the first toleration that matches it,
// and a negative tolerationSeconds counts as zero.
func evictionTime(tolerations []corev1.Toleration, taints []corev1.Taint, since func(*corev1.Taint) time.Time) (at time.Time, evict bool) {
	for i := range taints {
		tol := firstToleration(tolerations, &taints[i])
		if tol == nil {
			return time.Time{}, true
		}
		if tol.TolerationSeconds == nil {
			continue
		}
		deadline := since(&taints[i]).Add(time.Duration(max(*tol.TolerationSeconds, 0)) * time.Second)
		if !evict || deadline.Before(at) {
			at, evict = deadline, true
		}
	}
	return at, evict
}

// firstToleration returns the first of tolerations that tolerates taint,
// or nil.
func firstToleration(tolerations []corev1.Toleration, taint *corev1.Taint) *corev1.Toleration {
	for i := range tolerations {
		if tolerates(&tolerations[i], taint) {
			return &tolerations[i]
		}
	}
	return nil
}

// tolerates says whether toleration t matches taint, by the API's own
// rule (effect, key, Exists or Equal value); the comparison operators,
// behind a feature gate upstream, stay off.
func tolerates(t *corev1.Toleration, taint *corev1.Taint) bool {
	return t.ToleratesTaint(klog.Background(), taint, false)
}
