#!/usr/bin/env node
import '../dist/cli/gdoi-pcap.js'
