// doctor.cc: placeholder, being written.
