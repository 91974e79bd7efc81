package framework_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

func podWithAntiAffinity(ns string, podLabels map[string]string, terms ...corev1.PodAffinityTerm) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns, UID: "p", Labels: podLabels},
		Spec: corev1.PodSpec{Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: terms}}},
	}
}

func pod(ns string, l map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Labels: l}}
}

func TestAffinityTermNamespaces(t *testing.T) {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	web := map[string]string{"app": "web"}
	at := framework.NewAffinityTerms(podWithAntiAffinity("own", nil,
		corev1.PodAffinityTerm{TopologyKey: "k", LabelSelector: sel},
		corev1.PodAffinityTerm{TopologyKey: "k", LabelSelector: sel, Namespaces: []string{"a"}},
		corev1.PodAffinityTerm{TopologyKey: "k", LabelSelector: sel, NamespaceSelector: &metav1.LabelSelector{}},
		corev1.PodAffinityTerm{TopologyKey: "k", LabelSelector: sel, NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "x"}}},
		corev1.PodAffinityTerm{TopologyKey: "k"},
	))
	if at == nil || at.Err != nil || len(at.RequiredAnti) != 5 {
		t.Fatalf("parsed %+v", at)
	}
	own, listed, all, byLabel, nilSelector := &at.RequiredAnti[0], &at.RequiredAnti[1], &at.RequiredAnti[2], &at.RequiredAnti[3], &at.RequiredAnti[4]
	teamX := labels.Set{"team": "x"}
	for _, tc := range []struct {
		name string
		term *framework.AffinityTerm
		pod  *corev1.Pod
		ns   labels.Set
		want bool
	}{
		{"own namespace by default", own, pod("own", web), nil, true},
		{"not another namespace", own, pod("a", web), nil, false},
		{"selector still applies", own, pod("own", map[string]string{"app": "db"}), nil, false},
		{"listed namespace replaces own", listed, pod("own", web), nil, false},
		{"listed namespace", listed, pod("a", web), nil, true},
		{"empty selector: all namespaces", all, pod("z", web), nil, true},
		{"label selector, labels unknown", byLabel, pod("z", web), nil, false},
		{"label selector, labels match", byLabel, pod("z", web), teamX, true},
		{"label selector, labels differ", byLabel, pod("z", web), labels.Set{}, false},
		{"nil labelSelector selects nothing", nilSelector, pod("own", web), nil, false},
	} {
		if got := tc.term.Matches(tc.pod, tc.ns); got != tc.want {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}

	snap := &framework.Snapshot{Namespaces: map[string]labels.Set{"x1": teamX, "y": {"team": "y"}, "bare": nil}}
	r := byLabel.ResolveNamespaces(snap)
	if r.NamespaceSelector != nil || !r.Namespaces.Has("x1") || r.Namespaces.Has("y") || byLabel.Namespaces.Has("x1") {
		t.Errorf("resolved %v (original %v)", r.Namespaces, byLabel.Namespaces)
	}
	if !r.Matches(pod("x1", web), nil) {
		t.Error("resolved term needs no namespace labels")
	}
	if snap.NamespaceLabels("bare") == nil || snap.NamespaceLabels("missing") != nil {
		t.Error("NamespaceLabels: known namespaces are non-nil, unknown nil")
	}
}

func TestAffinityTermLabelKeys(t *testing.T) {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	at := framework.NewAffinityTerms(podWithAntiAffinity("ns", map[string]string{"app": "web", "hash": "v2"},
		corev1.PodAffinityTerm{TopologyKey: "k", LabelSelector: sel, MatchLabelKeys: []string{"hash", "absent"}},
		corev1.PodAffinityTerm{TopologyKey: "k", LabelSelector: sel, MismatchLabelKeys: []string{"hash"}},
	))
	match, mismatch := &at.RequiredAnti[0], &at.RequiredAnti[1]
	v1 := pod("ns", map[string]string{"app": "web", "hash": "v1"})
	v2 := pod("ns", map[string]string{"app": "web", "hash": "v2"})
	if match.Matches(v1, nil) || !match.Matches(v2, nil) {
		t.Error("matchLabelKeys should select the same hash only")
	}
	if !mismatch.Matches(v1, nil) || mismatch.Matches(v2, nil) {
		t.Error("mismatchLabelKeys should select other hashes only")
	}
}

func TestAffinityTermsInvalid(t *testing.T) {
	bad := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}
	at := framework.NewAffinityTerms(podWithAntiAffinity("ns", nil,
		corev1.PodAffinityTerm{TopologyKey: "k", LabelSelector: bad},
		corev1.PodAffinityTerm{TopologyKey: "k", LabelSelector: &metav1.LabelSelector{}},
	))
	if at == nil || at.Err == nil || !strings.Contains(at.Err.Error(), "required pod anti-affinity term 0") || len(at.RequiredAnti) != 1 {
		t.Fatalf("got %+v", at)
	}
	if framework.NewAffinityTerms(&corev1.Pod{}) != nil {
		t.Error("a pod without terms has no AffinityTerms")
	}
}

func TestNodeInfoTracksPodsWithAffinity(t *testing.T) {
	term := corev1.PodAffinityTerm{TopologyKey: "k", LabelSelector: &metav1.LabelSelector{}}
	anti := framework.NewPodInfo(podWithAntiAffinity("ns", nil, term))
	pref := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pref", UID: "pref"}, Spec: corev1.PodSpec{Affinity: &corev1.Affinity{
		PodAffinity: &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 1, PodAffinityTerm: term}}}}}}
	plain := framework.NewPodInfo(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "plain", UID: "plain"}})
	ni := framework.NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}, anti, framework.NewPodInfo(pref), plain)
	if len(ni.PodsWithAffinity) != 2 || len(ni.PodsWithRequiredAntiAffinity) != 1 {
		t.Fatalf("with affinity %d, required anti %d", len(ni.PodsWithAffinity), len(ni.PodsWithRequiredAntiAffinity))
	}
	c := ni.Clone()
	c.RemovePod("p")
	if len(c.PodsWithAffinity) != 1 || len(c.PodsWithRequiredAntiAffinity) != 0 {
		t.Errorf("after remove: %d, %d", len(c.PodsWithAffinity), len(c.PodsWithRequiredAntiAffinity))
	}
	if len(ni.PodsWithAffinity) != 2 || len(ni.PodsWithRequiredAntiAffinity) != 1 || ni.PodsWithRequiredAntiAffinity[0] != anti {
		t.Error("removing from a clone changed the original")
	}
}
