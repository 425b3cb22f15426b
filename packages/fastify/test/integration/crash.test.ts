// Delivered means counted: a Fastify app SIGKILLed at random moments under load loses nothing a client received.
import { frameworkCrashTest } from '../../../../test-support/crash/framework-crash';

frameworkCrashTest('fastify');
