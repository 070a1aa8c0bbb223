using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Releases;

namespace YieldVault.Ops.Core.Tests;

/// <summary>
/// The target's env file survives the release layout on real directories (LocalShell): adopting the plain app directory,
/// linking the shared file into a new release, switching to it and back. An EnvFile in a subdirectory, with another name,
/// under an AppSubdirectory, or absolute (in the app or outside it) is read at the same path after each switch.
/// </summary>
public sealed class ReleaseStoreEnvFileTests
{
    [Theory]
    [InlineData(".env", null)]
    [InlineData("production.env", null)]
    [InlineData("config/prod.env", null)]
    [InlineData("config/prod.env", "apps/api")]
    [InlineData("./config//prod.env", null)]
    [InlineData("ABSOLUTE-IN-APP", null)]
    [InlineData("ABSOLUTE-OUTSIDE", null)]
    public async Task An_env_file_survives_adoption_and_release_switches(string envFile, string? appSubdirectory)
    {
        var root = Directory.CreateTempSubdirectory("yv-release-env-").FullName;
        try
        {
            var app = Path.Combine(root, "app");
            var target = new VaultTarget
            {
                Name = "t1", AppPath = app, AppSubdirectory = appSubdirectory,
                EnvFile = envFile switch { "ABSOLUTE-IN-APP" => app + "/config/app.env", "ABSOLUTE-OUTSIDE" => root + "/etc/backend.env", _ => envFile },
            };
            Directory.CreateDirectory(app);
            Directory.CreateDirectory(Path.GetDirectoryName(target.EnvFilePath)!);
            await File.WriteAllTextAsync(target.EnvFilePath, "SECRET=Planted-Env-1\n");
            using var shell = new LocalShell();
            var store = new ReleaseStore(target, shell);

            Assert.True(await store.AdoptAsync("abcdef1234567890", CancellationToken.None));
            Assert.Equal("SECRET=Planted-Env-1\n", await File.ReadAllTextAsync(target.EnvFilePath));
            var adopted = await store.CurrentAsync(CancellationToken.None);

            // A new release as the builder leaves it (its app directory, no env file), linked and switched to.
            const string next = "20260101T000000Z-bbbbbbb";
            Directory.CreateDirectory(ReleaseBuilder.AppDirectoryOf(target, store.ReleasesDirectory + "/" + next));
            await store.LinkEnvFileAsync(store.ReleasesDirectory + "/" + next, CancellationToken.None);
            await store.SwitchAsync(next, CancellationToken.None);
            Assert.Equal(next, await store.CurrentAsync(CancellationToken.None));
            Assert.Equal("SECRET=Planted-Env-1\n", await File.ReadAllTextAsync(target.EnvFilePath));

            // One file for every release: a change made now is what the previous release reads after a switch back.
            await File.WriteAllTextAsync(target.EnvFilePath, "SECRET=Planted-Env-2\n");
            await store.SwitchAsync(adopted!, CancellationToken.None);
            Assert.Equal("SECRET=Planted-Env-2\n", await File.ReadAllTextAsync(target.EnvFilePath));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
