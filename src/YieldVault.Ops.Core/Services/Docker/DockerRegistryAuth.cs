using System;
using System.Globalization;
using System.Linq;
using System.Security;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Services;

/// <summary>The credentials a pull sends to a registry, and where they came from (for messages; never the secret).</summary>
internal sealed class RegistryAuth
{
    public RegistryAuth(AuthConfig config, string source)
    {
        Config = config;
        Source = source;
    }

    public AuthConfig Config { get; }

    /// <summary>"-RegistryCredential" or "~/.docker/config.json on deploy@app1".</summary>
    public string Source { get; }
}

/// <summary>
/// Credentials for pulling a private image, the way the docker CLI finds them (the engine's pull API takes them from the
/// client, never reads config.json itself): a given credential first, else the auth stored for the image's registry by
/// "docker login" in the host's ${DOCKER_CONFIG:-~/.docker}/config.json, read as the target's user. The secrets go to
/// the engine's API only (X-Registry-Auth) and are registered with the run's redactor.
/// </summary>
internal static class DockerRegistryAuth
{
    public const string DockerHub = "docker.io";

    private const int MaxConfigBytes = 1024 * 1024;

    // $1 = the most bytes read. Exit 3: no config file.
    private const string ReadConfigScript =
        "f=\"${DOCKER_CONFIG:-$HOME/.docker}/config.json\"\n" +
        "[ -f \"$f\" ] || exit 3\n" +
        "head -c \"$1\" -- \"$f\"\n";

    /// <summary>The registry of an image reference: "127.0.0.1:5000/app:v1" -> "127.0.0.1:5000"; "app" or "org/app" -> docker.io.</summary>
    public static string RegistryOf(string image)
    {
        var slash = image.IndexOf('/');
        if (slash <= 0)
        {
            return DockerHub;
        }

        var first = image.Substring(0, slash);
        return first.IndexOf('.') >= 0 || first.IndexOf(':') >= 0 || first == "localhost" ? first : DockerHub;
    }

    /// <summary>A config.json key ("https://index.docker.io/v1/", "http://127.0.0.1:5000", "ghcr.io") as a registry name.</summary>
    public static string Normalize(string key)
    {
        var text = key.Trim();
        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            text = text.Substring(scheme + 3);
        }

        var slash = text.IndexOf('/');
        if (slash >= 0)
        {
            text = text.Substring(0, slash);
        }

        text = text.ToLowerInvariant();
        return text is "index.docker.io" or "registry-1.docker.io" or "registry.hub.docker.com" ? DockerHub : text;
    }

    /// <summary>
    /// The credentials for pulling <paramref name="image"/>, or null when there are none (a public image needs none).
    /// Every secret found is added to <paramref name="redactor"/>.
    /// </summary>
    public static async Task<RegistryAuth?> ResolveAsync(VaultTarget target, IHostShell shell, string image, RegistryCredential? credential, SecretRedactor redactor,
        Action<string> step, CancellationToken cancellationToken)
    {
        var registry = RegistryOf(image);
        if (credential is not null)
        {
            var password = SecureStrings.Unprotect(credential.Password);
            redactor.Add(password);
            step($"pulling with the credential of {credential.UserName} for {registry} (-RegistryCredential)");
            return new RegistryAuth(new AuthConfig { Username = credential.UserName, Password = password, ServerAddress = registry }, "-RegistryCredential");
        }

        var read = await shell.RunAsync(CommandLine.Script(ReadConfigScript, MaxConfigBytes.ToString(CultureInfo.InvariantCulture)), TimeSpan.FromSeconds(30), cancellationToken)
            .ConfigureAwait(false);
        var where = $"~/.docker/config.json on {shell.Description}";
        if (read.ExitCode == 3 || !read.Succeeded)
        {
            return null;
        }

        var (auth, note) = FromConfig(read.StandardOutput, registry, redactor);
        if (note is not null)
        {
            step($"{where}: {note}");
        }

        if (auth is null)
        {
            return null;
        }

        step($"pulling with the auth for {registry} in {where}");
        return new RegistryAuth(auth, where);
    }

    /// <summary>The auth for <paramref name="registry"/> in a config.json text (auths: auth, or username/password, or identitytoken).</summary>
    public static (AuthConfig? Auth, string? Note) FromConfig(string configJson, string registry, SecretRedactor redactor)
    {
        JObject? config;
        try
        {
            config = JToken.Parse(configJson) as JObject;
        }
        catch (JsonException)
        {
            return (null, "not valid JSON; ignored");
        }

        var entry = (config?["auths"] as JObject)?.Properties().FirstOrDefault(p => Normalize(p.Name) == registry)?.Value as JObject;
        string? Field(JObject o, string name) => o[name] is { Type: JTokenType.String } v ? (string?)v : null;
        if (entry is not null)
        {
            if (Field(entry, "identitytoken") is { Length: > 0 } token)
            {
                redactor.Add(token);
                return (new AuthConfig { IdentityToken = token, ServerAddress = registry }, null);
            }

            if (Field(entry, "auth") is { Length: > 0 } encoded)
            {
                redactor.Add(encoded);
                string decoded;
                try
                {
                    decoded = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
                }
                catch (FormatException)
                {
                    return (null, $"the auth for {registry} is not base64; ignored");
                }

                var colon = decoded.IndexOf(':');
                if (colon <= 0)
                {
                    return (null, $"the auth for {registry} is not user:password; ignored");
                }

                var password = decoded.Substring(colon + 1);
                redactor.Add(password);
                return (new AuthConfig { Username = decoded.Substring(0, colon), Password = password, ServerAddress = registry }, null);
            }

            if (Field(entry, "username") is { Length: > 0 } user && Field(entry, "password") is { Length: > 0 } secret)
            {
                redactor.Add(secret);
                return (new AuthConfig { Username = user, Password = secret, ServerAddress = registry }, null);
            }
        }

        var helper = (config?["credHelpers"] as JObject)?.Properties().FirstOrDefault(p => Normalize(p.Name) == registry)?.Value is { Type: JTokenType.String } h
            ? (string?)h
            : Field(config ?? new JObject(), "credsStore");
        return helper is null ? (null, null) : (null, $"credentials for {registry} are kept by the credential helper docker-credential-{helper}, which this module does not run");
    }

    /// <summary>
    /// The error for a pull the registry refused for want of (valid) credentials, or null when <paramref name="reason"/> is
    /// another failure (no such image, no network).
    /// </summary>
    public static VaultException? Refused(VaultTarget target, string engine, string image, string reason, RegistryAuth? auth)
    {
        if (!IsAuthRefusal(reason))
        {
            return null;
        }

        var registry = RegistryOf(image);
        var message = auth is null
            ? $"{target.DisplayName}: the registry {registry} refused to let the Docker engine at {engine} pull {image} ({reason}). No credentials were sent: " +
              $"no -RegistryCredential, and no auth for {registry} in the host's ~/.docker/config.json. Nothing was changed; the current version still serves."
            : $"{target.DisplayName}: the registry {registry} refused the credentials from {auth.Source} for {image} ({reason}). Nothing was changed; the current version still serves.";
        // What to do is part of the message too: a deployment's result keeps the message only.
        var action = auth is null
            ? $"Pass -RegistryCredential (Get-Credential) to Invoke-VaultDeployment, or log in on the host as the target's user: docker login {registry}."
            : $"Check the user name and password (or token) for {registry} and that it may pull {DockerImages.Split(image).Repository}; then deploy again.";
        return new VaultException(ErrorIds.ImagePullUnauthorized, VaultErrorKind.AuthenticationError, message + " " + action, action);
    }

    public static bool IsAuthRefusal(string reason)
    {
        var text = reason.ToLowerInvariant();
        return new[] { "no basic auth credentials", "unauthorized", "authentication required", "access denied", "denied: requested access", "may require 'docker login'", "incorrect username or password" }
            .Any(p => text.IndexOf(p, StringComparison.Ordinal) >= 0);
    }
}
