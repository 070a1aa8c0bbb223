using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Smoke;

/// <summary>One answer to a smoke request: status, JSON body (when it is JSON), time, Retry-After.</summary>
public sealed class SmokeResponse
{
    public int? StatusCode { get; init; }

    /// <summary>The body as JSON (any JSON value), or null when it is empty or not JSON.</summary>
    public JToken? Json { get; init; }

    public bool BodyIsJson { get; init; }

    /// <summary>The body as text (at most <see cref="SmokeHttp.MaxBodyBytes"/>), for checks of a plain answer.</summary>
    public string Body { get; init; } = "";

    public double LatencyMs { get; init; }

    /// <summary>Why no answer came (refused, timed out), for the user; null when one came.</summary>
    public string? Error { get; init; }

    public TimeSpan? RetryAfter { get; init; }
}

/// <summary>Sends the smoke requests. Every request has a timeout and a cap on the body it reads.</summary>
public static class SmokeHttp
{
    /// <summary>The most of a body that is read; larger answers are cut (and then are not JSON).</summary>
    public const int MaxBodyBytes = 1024 * 1024;

    // To the target's localhost through a local forward: never through a proxy.
    private static readonly HttpClient Direct = new(new HttpClientHandler { AllowAutoRedirect = false, UseProxy = false })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    // To a public URL (runbook 9.2): as any client on this machine would go, through its proxy if it has one.
    private static readonly HttpClient Public = new(new HttpClientHandler { AllowAutoRedirect = false })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>
    /// The URL of <paramref name="pathAndQuery"/> under <paramref name="baseUri"/>, keeping a path prefix of
    /// the base (https://lb.example/backend + /health = https://lb.example/backend/health).
    /// </summary>
    public static Uri Combine(Uri baseUri, string pathAndQuery)
    {
        var url = SmokeCheck.IsValidPath(pathAndQuery)
            ? new Uri(baseUri.GetLeftPart(UriPartial.Authority) + baseUri.AbsolutePath.TrimEnd('/') + pathAndQuery, UriKind.Absolute)
            : null;
        // The checks' paths are checked when the target is built; this keeps a check built in code on the base's host too.
        return url is not null && ProbeUrl.IsUnder(baseUri, url) ? url : ProbeUrl.Resolve(baseUri, pathAndQuery);
    }

    public static async Task<SmokeResponse> SendAsync(Uri url, string method, string? apiKey, bool viaProxy, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        using var timeoutSource = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        try
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), url);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            if (apiKey is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", "ApiKey " + apiKey);
            }

            if (method == "POST")
            {
                request.Content = new ByteArrayContent(Array.Empty<byte>());
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            }

            var client = viaProxy ? Public : Direct;
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
            var body = await ReadCappedAsync(response, linked.Token).ConfigureAwait(false);
            var latency = watch.Elapsed.TotalMilliseconds;
            JToken? json = null;
            var isJson = false;
            if (body.Length > 0)
            {
                try
                {
                    json = ParseJson(body);
                    isJson = true;
                }
                catch (JsonException)
                {
                    // Not JSON; the evaluation says so when the check reads the body.
                }
            }

            return new SmokeResponse
            {
                StatusCode = (int)response.StatusCode, Json = json, BodyIsJson = isJson, Body = body, LatencyMs = latency, RetryAfter = RetryAfter(response),
            };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new SmokeResponse
            {
                LatencyMs = watch.Elapsed.TotalMilliseconds,
                Error = string.Format(CultureInfo.InvariantCulture, "no answer within {0:0.#} s", timeout.TotalSeconds),
            };
        }
        catch (HttpRequestException ex)
        {
            return new SmokeResponse { LatencyMs = watch.Elapsed.TotalMilliseconds, Error = "could not connect: " + Innermost(ex).Message };
        }
        catch (IOException ex)
        {
            return new SmokeResponse { LatencyMs = watch.Elapsed.TotalMilliseconds, Error = "the connection failed: " + Innermost(ex).Message };
        }
    }

    private static async Task<string> ReadCappedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        using var stream = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
        var buffer = new byte[16 * 1024];
        using var memory = new MemoryStream();
        while (memory.Length < MaxBodyBytes)
        {
            var read = await stream.ReadAsync(buffer, 0, (int)Math.Min(buffer.Length, MaxBodyBytes - memory.Length), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            memory.Write(buffer, 0, read);
        }

        return Encoding.UTF8.GetString(memory.ToArray());
    }

    /// <summary>Parses JSON as it is: dates stay text, numbers stay exact, nothing may follow the value.</summary>
    public static JToken ParseJson(string text)
    {
        using var reader = new JsonTextReader(new StringReader(text))
        {
            DateParseHandling = DateParseHandling.None, FloatParseHandling = FloatParseHandling.Decimal, MaxDepth = 64,
        };
        var token = JToken.ReadFrom(reader);
        if (reader.Read())
        {
            throw new JsonReaderException("Additional text after the JSON value.");
        }

        return token;
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is not { } header)
        {
            return null;
        }

        if (header.Delta is { } delta)
        {
            return delta;
        }

        return header.Date is { } date ? date - DateTimeOffset.UtcNow : null;
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }
}
