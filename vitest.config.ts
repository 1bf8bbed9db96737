import { configDefaults, defineConfig } from 'vitest/config'

// Two projects:
//   unit    everything except Docker-backed tests; never touches Docker
//           (`vitest run --project unit`, `npm run test:nodocker`)
//   docker  test/**/*.docker.test.ts, test/docker/** and the fault-injection suite
//           test/faults/** (real engines, tmpfs mounts, signals); the global setup runs
//           scripts/test-env.sh up and skips these tests when no engine is available,
//           unless CI=true or OWNOPS_REQUIRE_DOCKER=1 (then the run fails).
// Both use test/global-setup.ts, which branches on the project name. The root config
// must not have a globalSetup of its own: vitest always runs the root one.
const dockerTests = ['test/**/*.docker.test.ts', 'test/docker/**/*.test.ts', 'test/faults/**/*.test.ts']

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...dockerTests],
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'docker',
          include: dockerTests,
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
})
