"""Simulated field devices (HJ 212 monitors and loggers, GPS, MQTT monitors, Modbus instruments) for tests."""
