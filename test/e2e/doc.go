// Package e2e is skiff's end-to-end tier: tests that start the real skiff
// binary as a subprocess (its own process group, embedded etcd, a temp data
// dir) and drive it with the real kubectl found on PATH, asserting on what
// kubectl prints. It owns no product code. The harness lives in the _test
// files: server_test.go (the server process), kubectl_test.go (running
// kubectl), table_test.go (parsing kubectl's column output) and
// main_test.go (one server shared by the package). The node_*_test.go
// files run real containers on one shared server with its own node
// (containerd, pod network, kubelet on :10250); they need root, containerd,
// runc, the CNI plugins and nft, and skip with a message otherwise. Only one
// e2e run may use a machine at a time: the node owns port 10250, the cni0
// bridge and the skiff-network nftables table.
//
// SKIFF_BIN names the binary to test; without it the package builds
// ./cmd/skiff once. SKIFF_E2E_SERVER_FLAGS adds flags to every `skiff
// server` the tests start (e.g. "--advertise-address 192.0.2.2").
// Without kubectl on PATH every test skips.
package e2e
