package broker_test

import (
	"net"
	"strconv"
)

func fmtSscan(addr string, port *int) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	*port, err = strconv.Atoi(p)
	return 1, err
}
