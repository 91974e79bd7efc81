package dns

// ListenBoth lets the tests' fake upstream bind its UDP and TCP sockets on
// one port the way the server does, trying another port when a TCP socket
// already holds the one UDP was given.
var ListenBoth = listenBoth
