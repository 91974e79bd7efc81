// Package volume sets up and tears down a pod's volumes on the node: the
// directories (and tmpfs mounts) that the kubelet hands to the container
// runtime as bind-mount sources.
//
// It owns the on-disk layout under <root>/pods/<uid>/volumes/<plugin>/<name>
// (plugin directories named as upstream, e.g. kubernetes.io~configmap), the
// atomic writer that keeps configMap, secret, projected and downwardAPI
// volumes current while containers read them, hostPath type checks, emptyDir
// size accounting, and SafeSubPath for resolving container subPaths.
//
// It does not own the pod lifecycle: the kubelet calls SetUp before it
// starts a pod's containers, Refresh (or SetUp again) when the pod object
// changes, and TearDown once every container is gone. It does not make the
// bind mounts into containers (the runtime does) and it keeps no cache of
// configMaps or secrets: each refresh reads them from the API server.
package volume
