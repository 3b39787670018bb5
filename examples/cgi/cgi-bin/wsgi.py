#!/usr/bin/env python3
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'wsgi'))
from wsgiref.handlers import CGIHandler; from app import application
CGIHandler().run(application)
