// http.cc: placeholder, being written.
