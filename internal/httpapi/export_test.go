package httpapi

// AddRoutes mounts routes that exist only in tests (a panicking handler,
// limit probes); production routes are listed in Routes.
func (s *Server) AddRoutes(rs ...Route) { s.testRoutes = append(s.testRoutes, rs...) }

// AddCheck adds a readiness check to a running test server; production
// checks come with Deps.Checks.
func (s *Server) AddCheck(c Check) { s.checks = append(s.checks, c) }
